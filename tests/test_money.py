"""Money: integer minor units, known ISO 4217 codes, exact formatting."""

from __future__ import annotations

import dataclasses

import pytest

from shared.money import CURRENCIES, Money, normalize_currency


def test_currencies_hold_the_active_iso_4217_list() -> None:
    assert 150 <= len(CURRENCIES) <= 180
    assert all(len(code) == 3 and code.isascii() and code.isupper() for code in CURRENCIES)
    expected_digits = {
        "USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "XOF": 0,
        "KWD": 3, "BHD": 3, "JOD": 3, "TND": 3, "UYW": 4, "XCG": 2, "ZWG": 2, "SLE": 2, "VES": 2,
    }  # fmt: skip
    assert {code: CURRENCIES[code] for code in expected_digits} == expected_digits


@pytest.mark.parametrize(
    "code",
    ["XXX", "XTS", "XBA", "XAU", "XAG", "XDR", "CLF", "USN", "HRK", "BGN", "ANG", "ZWL", "SLL", "CUC"],
)
def test_currencies_leave_out_funds_metals_and_withdrawn_codes(code: str) -> None:
    assert code not in CURRENCIES


def test_currencies_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        CURRENCIES["ABC"] = 2  # type: ignore[index]


def test_normalize_currency_accepts_case_and_surrounding_whitespace() -> None:
    assert normalize_currency(" usd\n") == "USD"
    assert normalize_currency("Jpy") == "JPY"


@pytest.mark.parametrize("code", ["", "US", "USDX", "ABC", "XXX", "U SD"])
def test_normalize_currency_rejects_unknown_codes(code: str) -> None:
    with pytest.raises(ValueError, match="unknown currency code"):
        normalize_currency(code)


def test_money_normalizes_its_currency() -> None:
    assert Money(100, " eur ").currency == "EUR"


@pytest.mark.parametrize("amount", [12.34, 12.0, True, "1234", None])
def test_money_refuses_an_amount_that_is_not_an_int(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "USD")  # type: ignore[arg-type]


def test_money_refuses_an_amount_beyond_a_bigint() -> None:
    with pytest.raises(ValueError):
        Money(2**63, "USD")


def test_money_refuses_an_unknown_currency() -> None:
    with pytest.raises(ValueError, match="unknown currency code"):
        Money(100, "ZZZ")


def test_money_is_immutable() -> None:
    price = Money(100, "USD")
    with pytest.raises(dataclasses.FrozenInstanceError):
        price.amount = 5  # type: ignore[misc]


def test_adding_money_in_the_same_currency_sums_minor_units() -> None:
    assert Money(1999, "USD") + Money(1, "usd") == Money(2000, "USD")


def test_adding_money_in_different_currencies_is_refused() -> None:
    with pytest.raises(ValueError, match="different currencies"):
        Money(100, "USD") + Money(100, "EUR")


def test_adding_a_plain_number_to_money_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Money(100, "USD") + 1  # type: ignore[operator]


def test_line_total_is_unit_price_times_quantity() -> None:
    assert Money(1250, "GBP") * 3 == 3 * Money(1250, "GBP") == Money(3750, "GBP")
    assert Money(500, "EUR") - Money(200, "EUR") == Money(300, "EUR")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1234, "USD"), "USD 12.34"),
        (Money(5, "USD"), "USD 0.05"),
        (Money(0, "EUR"), "EUR 0.00"),
        (Money(-1234, "USD"), "USD -12.34"),
        (Money(-5, "USD"), "USD -0.05"),
        (Money(1200, "JPY"), "JPY 1200"),
        (Money(-1200, "JPY"), "JPY -1200"),
        (Money(1005, "KWD"), "KWD 1.005"),
        (Money(12345, "UYW"), "UYW 1.2345"),
        (Money(2**63 - 1, "USD"), "USD 92233720368547758.07"),
    ],
)
def test_format_places_the_decimal_point_by_the_currency_minor_units(money: Money, text: str) -> None:
    assert money.format() == text
    assert str(money) == text
