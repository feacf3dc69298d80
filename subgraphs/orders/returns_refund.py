"""What a return refunds, in integer minor units: pure (no I/O), from the order's frozen price.

The rule (the README and the schema descriptions repeat it; tests/orders/test_orders_returns_refund.py checks
it against hand-computed cases):

- A line of n units carries three frozen figures: its items X = unit price x n, its discount D (its share of
  the order's discounts) and its tax T (pricing.py). Lines older than checkout have no discount or tax: 0.
- Returning q units of that line when k of its units were refunded before (by earlier received returns), each
  figure F in (X, D, T) is shared as  floor(F x (k + q) / n) - floor(F x k / n).  So the shares of several
  returns of one line add up exactly to the line's figure (the last return of a line gets what is left), and
  no return is ever refunded a minor unit that another return of the line also got.
- The line's refund:
  - tax-exclusive prices (the order's `pricesIncludeTax` false): items - discount + tax (the line's total
    is net - discount + tax);
  - tax-inclusive prices (`pricesIncludeTax` true): items - discount; the tax share is inside that amount
    and is reported (as `tax`) but not added (the line's total is gross - discount).
  Either way the refunds of all the units of a line add up to the line's frozen total.
- Shipping is refunded only by the return that makes every unit of the order returned, never otherwise:
  that return adds what the order charged beyond its lines (order total - the sum of the line totals: the
  shipping price with its tax in a tax-exclusive store, the gross shipping price in a tax-inclusive one).
  So all the returns of a whole order refund exactly the order's total.
- A return's refund: subtotal = sum of items shares, discount = sum of discount shares, tax = sum of tax
  shares, shipping as above, total = sum of the line refunds + shipping.

"Before" means in returns whose refund is fixed: a return's figures are computed when it is requested (an
estimate, counting every earlier return that is not REJECTED) and fixed when it is RECEIVED (counting only
returns received before it). Fixing them in the order of receipt keeps the sums exact even when an earlier
request is rejected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from subgraphs.orders.models import Order, OrderItem


@dataclass(frozen=True, slots=True)
class LineRefund:
    line: int
    quantity: int
    subtotal: int
    discount: int
    tax: int
    refund: int


@dataclass(frozen=True, slots=True)
class RefundFigures:
    lines: tuple[LineRefund, ...]
    subtotal: int
    discount: int
    tax: int
    shipping: int
    total: int


def share(amount: int, units: int, before: int, quantity: int) -> int:
    """This return's share of `amount` (a line's figure over its `units`) for `quantity` units, `before`
    units of the line having been refunded already: floor(amount*(before+quantity)/units) -
    floor(amount*before/units)."""
    if before < 0 or quantity <= 0 or before + quantity > units:
        raise ValueError("a return shares at most the units of its line")
    return amount * (before + quantity) // units - amount * before // units


def line_total(item: OrderItem) -> int:
    """The line's frozen total (unit price x quantity on lines older than checkout)."""
    return item.total_amount if item.total_amount is not None else item.unit_price_amount * item.quantity


def line_refund(item: OrderItem, *, before: int, quantity: int, prices_include_tax: bool) -> LineRefund:
    units = item.quantity
    subtotal = share(item.unit_price_amount * units, units, before, quantity)
    discount = share(item.discount_amount or 0, units, before, quantity)
    tax = share(item.tax_amount or 0, units, before, quantity)
    refund = subtotal - discount if prices_include_tax else subtotal - discount + tax
    return LineRefund(item.line, quantity, subtotal, discount, tax, refund)


def refund_of(
    order: Order,
    items: Sequence[OrderItem],
    quantities: Mapping[int, int],
    before: Mapping[int, int],
) -> RefundFigures:
    """The refund of returning `quantities` {line: units} of `order`, `before` {line: units} having been
    refunded by other returns already."""
    by_line = {item.line: item for item in items}
    include_tax = bool(order.prices_include_tax)
    lines = tuple(
        line_refund(
            by_line[line], before=before.get(line, 0), quantity=quantity, prices_include_tax=include_tax
        )
        for line, quantity in sorted(quantities.items())
    )
    everything_returned = all(
        before.get(item.line, 0) + quantities.get(item.line, 0) >= item.quantity for item in items
    )
    shipping = 0
    if everything_returned:
        shipping = max(0, order.total_amount - sum(line_total(item) for item in items))
    return RefundFigures(
        lines=lines,
        subtotal=sum(line.subtotal for line in lines),
        discount=sum(line.discount for line in lines),
        tax=sum(line.tax for line in lines),
        shipping=shipping,
        total=sum(line.refund for line in lines) + shipping,
    )
