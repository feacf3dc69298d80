"""pricing.price against hand-computed tables: net and gross stores, half-up per line, discount allocation."""

from __future__ import annotations

import random

import pytest

from subgraphs.orders.pricing import (
    AppliedDiscount,
    DiscountKind,
    PricedLine,
    TaxRate,
    allocate,
    price,
    round_half_up,
)

RATES = {
    ("DE", "standard"): TaxRate(2000, "VAT 20%"),
    ("DE", "reduced"): TaxRate(700, "VAT 7%"),
}


def line(line_id: str, unit: int, quantity: int = 1, tax_class: str = "standard", **kw: str) -> PricedLine:
    return PricedLine(
        line_id=line_id,
        product_id=kw.get("product_id", f"p{line_id}"),
        category=kw.get("category"),
        tax_class=tax_class,
        unit_amount=unit,
        quantity=quantity,
    )


def net(
    lines: list[PricedLine], shipping: int = 0, discounts: tuple[AppliedDiscount, ...] = (), **kw: object
):
    return price(
        lines,
        currency="EUR",
        country=kw.get("country", "DE"),  # type: ignore[arg-type]
        shipping_amount=shipping,
        rates=RATES,
        prices_include_tax=False,
        discounts=discounts,
    )


def gross(lines: list[PricedLine], shipping: int = 0, discounts: tuple[AppliedDiscount, ...] = ()):
    return price(
        lines,
        currency="EUR",
        country="DE",
        shipping_amount=shipping,
        rates=RATES,
        prices_include_tax=True,
        discounts=discounts,
    )


def pct(bp: int, **kw: object) -> AppliedDiscount:
    return AppliedDiscount("promo-pct", "pct", DiscountKind.PERCENTAGE, bp, **kw)  # type: ignore[arg-type]


def fixed(amount: int, **kw: object) -> AppliedDiscount:
    return AppliedDiscount("promo-fixed", "fixed", DiscountKind.FIXED_AMOUNT, amount, **kw)  # type: ignore[arg-type]


def test_net_store_taxes_each_line_at_its_class_rate_and_shipping_at_standard() -> None:
    # 2 x 10.00 standard: tax 4.00; 4.99 reduced: 0.3493 → 0.35; shipping 4.90: 0.98.
    b = net([line("a", 1000, 2), line("b", 499, tax_class="reduced")], shipping=490)
    assert [(x.subtotal, x.net, x.tax, x.gross) for x in b.lines] == [
        (2000, 2000, 400, 2400),
        (499, 499, 35, 534),
    ]
    assert (b.subtotal, b.discount_total, b.shipping, b.shipping_tax, b.tax_total) == (2499, 0, 490, 98, 533)
    assert b.total == 2499 + 490 + 533 == 3522
    assert [(t.tax_class, t.rate_bp, t.net, t.tax) for t in b.tax_lines] == [
        ("reduced", 700, 499, 35),
        ("standard", 2000, 2490, 498),
    ]


@pytest.mark.parametrize(
    ("unit", "rate_class", "tax"),
    [
        (50, "reduced", 4),  # 3.5 → 4 (half-up)
        (150, "reduced", 11),  # 10.5 → 11 (banker's would give 10)
        (7, "reduced", 0),  # 0.49 → 0
        (22, "standard", 4),  # 4.4 → 4
        (23, "standard", 5),  # 4.6 → 5
    ],
)
def test_net_store_rounds_half_a_minor_unit_up(unit: int, rate_class: str, tax: int) -> None:
    assert net([line("a", unit, tax_class=rate_class)]).lines[0].tax == tax


def test_tax_is_rounded_per_line_not_on_the_sum() -> None:
    # Three lines of 0.05 at 7%: 0.35 each → 0 per line; the sum would round 1.05 → 1.
    b = net(
        [
            line("a", 5, tax_class="reduced"),
            line("b", 5, tax_class="reduced"),
            line("c", 5, tax_class="reduced"),
        ]
    )
    assert [x.tax for x in b.lines] == [0, 0, 0]
    assert b.tax_total == 0


@pytest.mark.parametrize(
    ("amount", "rate_class", "net_part", "tax"),
    [
        (1200, "standard", 1000, 200),
        (1000, "reduced", 935, 65),  # 934.579 → 935
        (3, "standard", 3, 0),  # 2.5 → 3 (half-up), tax 0
        (9, "standard", 8, 1),  # 7.5 → 8
        (107, "reduced", 100, 7),
    ],
)
def test_gross_store_takes_the_tax_out_of_the_price(
    amount: int, rate_class: str, net_part: int, tax: int
) -> None:
    b = gross([line("a", amount, tax_class=rate_class)])
    assert (b.lines[0].net, b.lines[0].tax, b.lines[0].gross) == (net_part, tax, amount)
    assert b.total == amount  # the tax is inside


def test_gross_store_total_is_subtotal_minus_discount_plus_shipping() -> None:
    b = gross(
        [line("a", 1200, 2), line("b", 1070, tax_class="reduced")], shipping=600, discounts=(fixed(340),)
    )
    # 340 over 2400 and 1070: 235.158 → 235, 104.841 → 105; lines 2165 and 965.
    assert [x.discount for x in b.lines] == [235, 105]
    # 2165 / 1.2 = 1804.17 → 1804 (tax 361); 965 / 1.07 = 901.87 → 902 (tax 63); shipping 600 → 500 + 100.
    assert [(x.net, x.tax) for x in b.lines] == [(1804, 361), (902, 63)]
    assert (b.shipping_net, b.shipping_tax, b.tax_total) == (500, 100, 524)
    assert b.total == 3470 - 340 + 600 == 3730
    assert b.net_total == 3730 - 524


def test_three_lines_of_a_third_share_a_fixed_discount_exactly() -> None:
    b = net([line("a", 100), line("b", 100), line("c", 100)], discounts=(fixed(100),))
    assert [x.discount for x in b.lines] == [34, 33, 33]  # ties go to the earlier line
    assert b.discount_total == 100
    # Taxes of 66, 67, 67 at 20%: 13.2 → 13, 13.4 → 13, 13.4 → 13.
    assert [x.tax for x in b.lines] == [13, 13, 13]
    assert b.total == 300 - 100 + 39


def test_one_minor_unit_over_three_equal_lines_goes_to_the_first() -> None:
    b = net([line("a", 1), line("b", 1), line("c", 1)], discounts=(fixed(1),))
    assert [x.discount for x in b.lines] == [1, 0, 0]


def test_a_percentage_is_rounded_once_on_the_scope_then_allocated() -> None:
    # 10% of 3 x 0.99 = 0.297 → 0.30, allocated in thirds.
    b = net([line("a", 99), line("b", 99), line("c", 99)], discounts=(pct(1000),))
    assert b.discount_total == 30
    assert [x.discount for x in b.lines] == [10, 10, 10]
    # 15% of 0.34 + 0.33 + 0.33 = 0.15, once.
    b = net([line("a", 34), line("b", 33), line("c", 33)], discounts=(pct(1500),))
    assert b.discount_total == 15
    assert sum(x.discount for x in b.lines) == 15


def test_largest_remainder_allocation() -> None:
    # 333 over 500/300/200: 166.5, 99.9, 66.6 → floors 166, 99, 66 (331), the 2 left to .9 then .6.
    assert allocate(333, [500, 300, 200]) == [166, 100, 67]
    assert allocate(0, [5, 5]) == [0, 0]
    assert allocate(0, []) == []
    with pytest.raises(ValueError):
        allocate(11, [5, 5])


def test_a_fixed_discount_never_exceeds_the_scoped_subtotal() -> None:
    b = net(
        [line("a", 300), line("b", 500, category="books")],
        discounts=(fixed(10_000, categories=frozenset({"books"})),),
    )
    assert [x.discount for x in b.lines] == [0, 500]
    assert b.discounts[0].amount == 500
    assert b.total == 300 + 60  # only the unscoped line and its tax remain


def test_a_full_discount_leaves_only_shipping() -> None:
    b = net([line("a", 999, 3), line("b", 1, tax_class="reduced")], shipping=500, discounts=(pct(10_000),))
    assert [(x.net, x.tax) for x in b.lines] == [(0, 0), (0, 0)]
    assert b.discount_total == 2998
    assert b.total == 500 + 100


def test_a_zero_rated_class_and_a_country_without_rates_pay_no_tax() -> None:
    b = net([line("a", 1000, tax_class="zero"), line("b", 1000)])
    assert [x.tax for x in b.lines] == [0, 200]
    assert [(t.tax_class, t.rate_bp, t.tax) for t in b.tax_lines] == [("standard", 2000, 200), ("zero", 0, 0)]
    assert net([line("a", 1000)], shipping=100, country="US").tax_total == 0
    assert net([line("a", 1000)], shipping=100, country=None).total == 1100


def test_free_shipping_waives_the_shipping_and_its_tax() -> None:
    free = AppliedDiscount("promo-ship", "ship", DiscountKind.FREE_SHIPPING)
    b = net([line("a", 1000)], shipping=490, discounts=(free,))
    assert (b.shipping, b.shipping_tax, b.discount_total) == (0, 0, 0)
    assert b.discounts[0].amount == 490
    assert b.total == 1200


def test_discounts_apply_in_order_each_to_what_the_previous_left() -> None:
    # 10% of 2000 = 200, then 500 fixed on the remaining 1800 (products a only: 900 left of 1000).
    b = net(
        [line("a", 1000), line("b", 1000)],
        discounts=(pct(1000), fixed(500, product_ids=frozenset({"pa"}))),
    )
    assert [x.discount for x in b.lines] == [600, 100]
    assert [d.amount for d in b.discounts] == [200, 500]
    assert b.total == 1300 + 260


def test_bad_lines_and_discounts_are_refused() -> None:
    with pytest.raises(ValueError):
        net([line("a", 100, 0)])
    with pytest.raises(ValueError):
        net([line("a", -1)])
    with pytest.raises(ValueError):
        net([line("a", 100)], discounts=(pct(10_001),))
    with pytest.raises(ValueError):
        net([line("a", 100)], shipping=-1)


def test_round_half_up() -> None:
    assert [round_half_up(n, 2) for n in range(6)] == [0, 1, 1, 2, 2, 3]


@pytest.mark.parametrize("include", [False, True])
def test_every_breakdown_adds_up_to_the_minor_unit(include: bool) -> None:
    rng = random.Random(15)
    for _ in range(500):
        lines = [
            line(str(i), rng.randint(0, 5000), rng.randint(1, 5), rng.choice(["standard", "reduced", "zero"]))
            for i in range(rng.randint(1, 6))
        ]
        discounts = tuple(
            rng.choice([pct(rng.randint(0, 10_000)), fixed(rng.randint(0, 20_000))])
            for _ in range(rng.randint(0, 2))
        )
        b = price(
            lines,
            currency="EUR",
            country="DE",
            shipping_amount=rng.randint(0, 1000),
            rates=RATES,
            prices_include_tax=include,
            discounts=discounts,
        )
        assert sum(x.discount for x in b.lines) == b.discount_total == sum(d.amount for d in b.discounts)
        assert all(0 <= x.discount <= x.subtotal and x.net >= 0 and x.tax >= 0 for x in b.lines)
        assert sum(t.tax for t in b.tax_lines) == b.tax_total
        assert b.total == b.subtotal - b.discount_total + b.shipping + (0 if include else b.tax_total)
        assert b.total == sum(x.gross for x in b.lines) + b.shipping_net + b.shipping_tax
