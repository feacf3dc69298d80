"""The rate rules of subgraphs/shipping/rates.py, one rule a test, at their edges."""

from __future__ import annotations

import pytest

from subgraphs.shipping import rates
from subgraphs.shipping.rates import Rate, WeightBand


def flat_rate(amount: int = 490, *, free_above: int | None = None, active: bool = True) -> Rate:
    return Rate(
        active=active, currency="EUR", kind="FLAT", flat_amount=amount, bands=(), free_above_amount=free_above
    )


BANDS = (WeightBand(1000, 390), WeightBand(5000, 690), WeightBand(10_000, 990))


def banded_rate(*, free_above: int | None = None) -> Rate:
    return Rate(
        active=True,
        currency="EUR",
        kind="WEIGHT_BANDS",
        flat_amount=None,
        bands=BANDS,
        free_above_amount=free_above,
    )


def price(rate: Rate, subtotal: int = 1000, currency: str = "EUR", weight: int = 0) -> rates.Priced:
    return rates.price(rate, subtotal_amount=subtotal, currency=currency, weight_grams=weight)


def test_a_flat_method_costs_its_price_whatever_the_weight() -> None:
    assert price(flat_rate(490), weight=0).amount == 490
    assert price(flat_rate(490), weight=1_000_000).amount == 490


@pytest.mark.parametrize(
    ("weight", "expected"), [(0, 390), (1000, 390), (1001, 690), (5000, 690), (5001, 990), (10_000, 990)]
)
def test_a_banded_method_costs_the_first_band_that_holds_the_weight_maximum_included(
    weight: int, expected: int
) -> None:
    assert price(banded_rate(), weight=weight).amount == expected


def test_a_cart_heavier_than_every_band_cannot_use_the_method() -> None:
    priced = price(banded_rate(), weight=10_001)

    assert (priced.available, priced.reason) == (False, rates.WEIGHT)


def test_a_too_heavy_cart_is_refused_even_above_the_free_threshold() -> None:
    assert price(banded_rate(free_above=5000), subtotal=100_000, weight=20_000).reason == rates.WEIGHT


@pytest.mark.parametrize(("subtotal", "expected"), [(4999, 490), (5000, 0), (5001, 0)])
def test_shipping_is_free_from_the_threshold_on_threshold_included(subtotal: int, expected: int) -> None:
    assert price(flat_rate(490, free_above=5000), subtotal=subtotal).amount == expected


def test_a_banded_method_is_free_above_its_threshold_too() -> None:
    assert price(banded_rate(free_above=5000), subtotal=5000, weight=7000).amount == 0


def test_a_cart_in_another_currency_cannot_use_the_method() -> None:
    priced = price(flat_rate(490, free_above=0), currency="USD")

    assert (priced.amount, priced.reason) == (None, rates.CURRENCY)


def test_an_archived_method_is_offered_to_no_cart() -> None:
    assert price(flat_rate(active=False)).reason == rates.ARCHIVED
