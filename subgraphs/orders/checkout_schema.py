"""The price's GraphQL types, shared by Cart (as priced now) and Order (as frozen at checkout); the rounding
rules in their descriptions are pricing.py's."""

from __future__ import annotations

import strawberry

from shared.graphql_types import Money
from subgraphs.orders import pricing

ROUNDING = (
    "Integer minor units; every rounding is half-up (0.5 goes up), once per line: a line's tax is rounded "
    "once and the tax total sums the rounded line taxes. A percentage discount is rounded once for its whole "
    "scope, "
    "then allocated over the scoped lines in proportion to their amounts (largest remainder, ties to the "
    "earlier line), so the line discounts sum exactly to it; a fixed amount is at most the scoped amount."
)
TAX_RULE = (
    "Net store (pricesIncludeTax false): line tax = round(net after discount x rate), "
    "line total = net + tax. "
    "Gross store: line tax = gross after discount - round(gross / (1 + rate)), line total = gross. "
    "The rate is the shipping country's for the product's tax class (0 when none, or no address yet); "
    "shipping is taxed at the country's `standard` rate."
)
TOTAL_RULE = (
    "subtotal - discountTotal + shippingPrice + taxTotal in a net store; "
    "subtotal - discountTotal + shippingPrice in a gross store (the tax is inside)."
)


@strawberry.type(description=f"A promotion or voucher that applies, and what it takes off. {ROUNDING}")
class PriceDiscount:
    promotion_id: strawberry.ID
    code: str | None = strawberry.field(description="The voucher's code; null for an automatic promotion.")
    name: str
    kind: str = strawberry.field(description="PERCENTAGE, FIXED_AMOUNT or FREE_SHIPPING.")
    amount: Money = strawberry.field(description="Taken off the lines (free shipping: the shipping waived).")

    @classmethod
    def of(cls, line: pricing.DiscountLine, currency: str) -> PriceDiscount:
        return cls(
            promotion_id=strawberry.ID(line.promotion_id),
            code=line.code,
            name=line.name,
            kind=line.kind.value,
            amount=Money(amount=line.amount, currency=currency),
        )


@strawberry.type(description=f"The tax of one (tax class, rate). {TAX_RULE}")
class TaxLine:
    tax_class: str
    rate_bp: int = strawberry.field(description="Basis points: 2000 = 20%.")
    name: str
    net: Money = strawberry.field(description="What the rate applies to, after discounts.")
    amount: Money


@strawberry.type(description="The shipping method an order was checked out with, frozen.")
class OrderShippingMethod:
    id: strawberry.ID
    name: str
    price: Money


def tax_lines_of(
    lines: list[dict[str, object]] | tuple[pricing.TaxLine, ...], currency: str
) -> list[TaxLine]:
    result = []
    for line in lines:
        if isinstance(line, pricing.TaxLine):
            values = (line.tax_class, line.rate_bp, line.name, line.net, line.tax)
        else:
            values = (
                line["taxClass"],
                line["rateBp"],
                line.get("name") or "",
                line.get("net") or 0,
                line["amount"],
            )
        tax_class, rate_bp, name, net, amount = values
        result.append(
            TaxLine(
                tax_class=str(tax_class),
                rate_bp=int(rate_bp),  # type: ignore[call-overload]
                name=str(name),
                net=Money(amount=int(net), currency=currency),  # type: ignore[call-overload]
                amount=Money(amount=int(amount), currency=currency),  # type: ignore[call-overload]
            )
        )
    return result
