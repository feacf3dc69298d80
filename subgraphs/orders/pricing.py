"""The price of a cart or an order: discounts, shipping, tax lines and total, in integer minor units.

Pure (no I/O): the cart and checkout call `price(...)` with lines, the tax table, the shipping price and the
discounts that apply (promotions.py decides those), and an order freezes every figure of the `Breakdown`.

The rules (the schema descriptions repeat them; tests/orders/test_orders_pricing*.py check them against
hand-computed tables):

- Amounts are ints in minor units, tax rates basis points (20% = 2000 bp), never floats. Every rounding is
  **half-up** (0.5 minor unit goes up; amounts are never negative, so "away from zero"), the rule of Saleor
  and Vendure, done **per line** (a line's tax is rounded once; the tax total sums the rounded line taxes).
- Net store (`prices_include_tax` false, the default): a unit price excludes tax.
  line tax = round(line net after discount x rate); line total = net + tax.
- Gross store (`prices_include_tax` true): a unit price includes tax.
  line tax = gross after discount - round(gross after discount ÷ (1 + rate)); line total = gross.
- A line's rate is the rate of (the shipping country, the product's tax class). A country without a row for a
  class taxes it at 0 (zero-rated); no country yet (a cart without an address) taxes everything at 0.
- Discounts apply in the order given (promotions.py: the automatic one first, then the voucher), each to what
  the previous ones left of the lines in its scope:
  - PERCENTAGE: round(scoped amount x rate) once for the whole scope, not per line (10% of 3 x 0.99 is 0.30,
    as a customer computes it), then allocated like a fixed amount;
  - FIXED_AMOUNT: at most the scoped amount (a discount never makes a line negative);
  - the amount is allocated over the scoped lines in proportion to their amounts, the remainder by the largest
    remainder method (ties: the earlier line), so the line discounts sum exactly to the discount;
  - FREE_SHIPPING: the shipping price becomes 0.
- Shipping is taxed at the country's "standard" rate, net or gross like the lines; its tax joins the
  ("standard", rate) tax line.
- total = subtotal - discount + shipping + tax in a net store; subtotal - discount + shipping in a gross store
  (the tax is inside). `Breakdown` carries both the net and gross figures, so an order can freeze them all.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Basis points in one whole: a rate of 2000 bp is 20%.
BP = 10_000
STANDARD = "standard"
REDUCED = "reduced"


class DiscountKind(enum.StrEnum):
    PERCENTAGE = "PERCENTAGE"  # value: basis points (1000 = 10%)
    FIXED_AMOUNT = "FIXED_AMOUNT"  # value: minor units of the cart's currency
    FREE_SHIPPING = "FREE_SHIPPING"  # value: unused (0)


@dataclass(frozen=True, slots=True)
class PricedLine:
    line_id: str  # the cart line's id, or the order line's index
    product_id: str
    category: str | None
    tax_class: str
    unit_amount: int  # net or gross as the store's setting says
    quantity: int
    variant_id: str | None = None  # the variant sold (a PRODUCTS promotion may name it, or its product)


@dataclass(frozen=True, slots=True)
class TaxRate:
    rate_bp: int
    name: str = ""


# (country ISO alpha-2, tax class) → rate; a missing pair is a rate of 0.
TaxTable = Mapping[tuple[str, str], TaxRate]
ZERO_RATE = TaxRate(0, "")


@dataclass(frozen=True, slots=True)
class AppliedDiscount:
    """A promotion or voucher that applies; `product_ids`/`categories` None means the whole cart."""

    promotion_id: str
    name: str
    kind: DiscountKind
    value: int = 0
    code: str | None = None
    product_ids: frozenset[str] | None = None
    categories: frozenset[str] | None = None

    def covers(self, line: PricedLine) -> bool:
        if self.product_ids is None and self.categories is None:
            return True
        in_products = self.product_ids is not None and (
            line.product_id in self.product_ids or line.variant_id in self.product_ids
        )
        return in_products or (
            self.categories is not None and line.category is not None and line.category in self.categories
        )


@dataclass(frozen=True, slots=True)
class LineBreakdown:
    line_id: str
    tax_class: str
    tax_rate_bp: int
    subtotal: int  # unit x quantity, as priced (net or gross)
    discount: int
    net: int  # after discount, without tax
    tax: int
    gross: int  # after discount, with tax: what the line costs

    @property
    def total(self) -> int:
        return self.gross


@dataclass(frozen=True, slots=True)
class TaxLine:
    tax_class: str
    rate_bp: int
    name: str
    net: int  # what the rate applies to (after discounts; shipping in the standard line)
    tax: int


@dataclass(frozen=True, slots=True)
class DiscountLine:
    promotion_id: str
    name: str
    code: str | None
    kind: DiscountKind
    amount: int  # what it took off the lines, or the shipping it waived


@dataclass(frozen=True, slots=True)
class Breakdown:
    currency: str
    prices_include_tax: bool
    lines: tuple[LineBreakdown, ...]
    subtotal: int  # Σ line subtotals, before discounts (net or gross as priced)
    discount_total: int  # Σ line discounts (a waived shipping is not in it: `shipping` is 0 then)
    shipping: int  # as priced (net or gross), after a free-shipping promotion
    shipping_net: int
    shipping_tax: int
    tax_total: int  # Σ line taxes + shipping tax
    tax_lines: tuple[TaxLine, ...]
    discounts: tuple[DiscountLine, ...]
    total: int  # what the customer pays

    @property
    def net_total(self) -> int:
        return self.total - self.tax_total


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator ÷ denominator rounded half-up, in integers (both ≥ 0, denominator > 0)."""
    return (2 * numerator + denominator) // (2 * denominator)


def tax_of_net(net: int, rate_bp: int) -> int:
    return round_half_up(net * rate_bp, BP)


def net_of_gross(gross: int, rate_bp: int) -> int:
    return round_half_up(gross * BP, BP + rate_bp)


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` (≤ Σ weights) split in proportion to `weights`; the remainder by the largest remainder method,
    ties to the earlier share, so the shares sum to `amount` exactly and none exceeds its weight."""
    whole = sum(weights)
    if amount < 0 or amount > whole:
        raise ValueError("an allocated amount lies between 0 and the sum of the weights")
    if whole == 0:
        return [0] * len(weights)
    shares = [amount * weight // whole for weight in weights]
    remainders = [amount * weight % whole for weight in weights]
    left = amount - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[index] += 1
    return shares


def discount_amount(discount: AppliedDiscount, scoped: int) -> int:
    """What `discount` takes off lines worth `scoped` (FREE_SHIPPING takes nothing off the lines)."""
    if discount.kind is DiscountKind.PERCENTAGE:
        return min(scoped, round_half_up(scoped * discount.value, BP))
    if discount.kind is DiscountKind.FIXED_AMOUNT:
        return min(scoped, discount.value)
    return 0


def price(
    lines: Sequence[PricedLine],
    *,
    currency: str,
    country: str | None,
    shipping_amount: int,
    rates: TaxTable,
    prices_include_tax: bool,
    discounts: Sequence[AppliedDiscount] = (),
) -> Breakdown:
    for line in lines:
        if line.quantity <= 0 or line.unit_amount < 0:
            raise ValueError(f"line {line.line_id}: a positive quantity and a non-negative price")
    if shipping_amount < 0:
        raise ValueError("a shipping price is never negative")
    for discount in discounts:
        if discount.value < 0 or (discount.kind is DiscountKind.PERCENTAGE and discount.value > BP):
            raise ValueError(f"discount {discount.promotion_id}: a value between 0 and 100%")

    def rate_of(tax_class: str) -> TaxRate:
        return rates.get((country, tax_class), ZERO_RATE) if country else ZERO_RATE

    subtotals = [line.unit_amount * line.quantity for line in lines]
    remaining, shipping, applied = _apply_discounts(lines, subtotals, shipping_amount, discounts)
    priced: list[LineBreakdown] = []
    groups: dict[tuple[str, int], list[int]] = {}  # (class, rate) → [net, tax]
    names: dict[tuple[str, int], str] = {}
    for line, subtotal, after in zip(lines, subtotals, remaining, strict=True):
        rate = rate_of(line.tax_class)
        net, tax = _split(after, rate.rate_bp, prices_include_tax)
        priced.append(
            LineBreakdown(
                line_id=line.line_id,
                tax_class=line.tax_class,
                tax_rate_bp=rate.rate_bp,
                subtotal=subtotal,
                discount=subtotal - after,
                net=net,
                tax=tax,
                gross=net + tax,
            )
        )
        group = groups.setdefault((line.tax_class, rate.rate_bp), [0, 0])
        group[0] += net
        group[1] += tax
        names.setdefault((line.tax_class, rate.rate_bp), rate.name)

    shipping_rate = rate_of(STANDARD)
    shipping_net, shipping_tax = _split(shipping, shipping_rate.rate_bp, prices_include_tax)
    if shipping:
        group = groups.setdefault((STANDARD, shipping_rate.rate_bp), [0, 0])
        group[0] += shipping_net
        group[1] += shipping_tax
        names.setdefault((STANDARD, shipping_rate.rate_bp), shipping_rate.name)

    subtotal = sum(subtotals)
    discount_total = subtotal - sum(remaining)
    tax_total = sum(line.tax for line in priced) + shipping_tax
    total = subtotal - discount_total + shipping + (0 if prices_include_tax else tax_total)
    return Breakdown(
        currency=currency,
        prices_include_tax=prices_include_tax,
        lines=tuple(priced),
        subtotal=subtotal,
        discount_total=discount_total,
        shipping=shipping,
        shipping_net=shipping_net,
        shipping_tax=shipping_tax,
        tax_total=tax_total,
        tax_lines=tuple(
            TaxLine(tax_class=key[0], rate_bp=key[1], name=names[key], net=net, tax=tax)
            for key, (net, tax) in sorted(groups.items())
        ),
        discounts=tuple(applied),
        total=total,
    )


def _apply_discounts(
    lines: Sequence[PricedLine], subtotals: list[int], shipping: int, discounts: Sequence[AppliedDiscount]
) -> tuple[list[int], int, list[DiscountLine]]:
    """(each line's amount after the discounts, the shipping price after them, what each took), applying them
    in order, each to what the previous ones left."""
    remaining = list(subtotals)
    applied: list[DiscountLine] = []
    for discount in discounts:
        if discount.kind is DiscountKind.FREE_SHIPPING:
            applied.append(_discount_line(discount, shipping))
            shipping = 0
            continue
        scope = [i for i, line in enumerate(lines) if discount.covers(line)]
        amount = discount_amount(discount, sum(remaining[i] for i in scope))
        for i, share in zip(scope, allocate(amount, [remaining[i] for i in scope]), strict=True):
            remaining[i] -= share
        applied.append(_discount_line(discount, amount))
    return remaining, shipping, applied


def _split(amount: int, rate_bp: int, includes_tax: bool) -> tuple[int, int]:
    """(net, tax) of an amount priced net or gross."""
    if includes_tax:
        net = net_of_gross(amount, rate_bp)
        return net, amount - net
    return amount, tax_of_net(amount, rate_bp)


def _discount_line(discount: AppliedDiscount, amount: int) -> DiscountLine:
    return DiscountLine(
        promotion_id=discount.promotion_id,
        name=discount.name,
        code=discount.code,
        kind=discount.kind,
        amount=amount,
    )
