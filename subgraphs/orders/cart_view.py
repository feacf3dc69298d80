"""A cart as shown and priced: its lines at the catalog's current prices (the price the customer last saw kept
beside, so a change is told), lines that can no longer be bought flagged and left out of the sums, its weight,
and its price through `cart_price` (the one place pricing enters: carts.py gathers its inputs, checkout.py
freezes its answer)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from subgraphs.orders import pricing
from subgraphs.orders.models import Cart, CartLine
from subgraphs.orders.peers import CatalogProduct

# An empty cart has no currency; its zero subtotal is given in this one (Money needs a currency).
EMPTY_CART_CURRENCY = "USD"
PRICE_CHANGED = "PRICE_CHANGED"
PRODUCT_UNAVAILABLE = "PRODUCT_UNAVAILABLE"


# --- pricing ---

SHIPPING_METHOD_UNAVAILABLE = "SHIPPING_METHOD_UNAVAILABLE"
VOUCHER_NOT_APPLICABLE = "VOUCHER_NOT_APPLICABLE"


@dataclass(frozen=True, slots=True)
class PriceInputs:
    """What a cart's price depends on beyond its lines: the shipping country's tax table, the store's setting,
    the chosen method's quote (None: no method, or not available now) and the discounts that apply."""

    country: str | None = None
    rates: pricing.TaxTable = field(default_factory=dict)
    prices_include_tax: bool = False
    shipping_amount: int = 0
    discounts: Sequence[pricing.AppliedDiscount] = ()
    notices: Sequence[Notice] = ()


NO_INPUTS = PriceInputs()


def pricing_lines(lines: Sequence[PricedLine]) -> list[pricing.PricedLine]:
    """The lines that can be bought, as pricing.price takes them (line id = the cart line's id)."""
    return [
        pricing.PricedLine(
            line_id=str(line.line.id),
            product_id=str(line.line.product_id),
            variant_id=str(line.line.variant_id),
            category=line.product.category if line.product is not None else None,
            tax_class=line.product.tax_class if line.product is not None else pricing.STANDARD,
            unit_amount=line.unit_amount,
            quantity=line.line.quantity,
        )
        for line in lines
        if line.available
    ]


def cart_price(lines: Sequence[PricedLine], *, currency: str, inputs: PriceInputs) -> pricing.Breakdown:
    """The cart's price: pricing.price over the lines that can be bought (the rules are its docstring's)."""
    return pricing.price(
        pricing_lines(lines),
        currency=currency,
        country=inputs.country,
        shipping_amount=inputs.shipping_amount,
        rates=inputs.rates,
        prices_include_tax=inputs.prices_include_tax,
        discounts=inputs.discounts,
    )


def product_weight(product: CatalogProduct | None) -> int:
    """The variant's weight in grams (its own, else its product's), 0 when unknown."""
    return product.weight_grams if product is not None else 0


# --- a cart as shown ---


@dataclass(frozen=True, slots=True)
class PricedLine:
    line: CartLine
    product: CatalogProduct | None
    available: bool
    unit_amount: int  # current price; the last seen one when the product is gone
    previous_amount: int | None  # the price the customer last saw, when it differs from the current one

    @property
    def line_total(self) -> int:
        return self.unit_amount * self.line.quantity

    @property
    def price_changed(self) -> bool:
        return self.previous_amount is not None


@dataclass(frozen=True, slots=True)
class Notice:
    code: str
    line_id: uuid.UUID | None  # None: about the whole cart (its method or voucher)
    product_id: uuid.UUID | None
    message: str
    reason: str | None = None  # shipping's or promotions' reason (NOT_IN_ZONE, VOUCHER_EXPIRED, ...)
    variant_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class CartView:
    cart: Cart
    lines: list[PricedLine]
    currency: str
    price: pricing.Breakdown
    weight_grams: int
    notices: list[Notice] = field(default_factory=list)

    @property
    def shipping_country(self) -> str | None:
        address = self.cart.shipping_address
        return address.get("country") or None if address else None

    @property
    def line_prices(self) -> dict[str, pricing.LineBreakdown]:
        return {line.line_id: line for line in self.price.lines}


def price_lines(
    cart: Cart,
    lines: list[CartLine],
    catalog: dict[str, CatalogProduct | None],
    inputs: PriceInputs = NO_INPUTS,
) -> CartView:
    """The cart's lines priced from `catalog` (variant id -> the catalog's variant, None when gone)."""
    currency = cart.currency or EMPTY_CART_CURRENCY
    priced: list[PricedLine] = []
    notices: list[Notice] = []
    for line in lines:
        product = catalog.get(str(line.variant_id))
        # Archived (the variant or its product), gone from the catalog, or now priced in another currency:
        # shown, flagged, not counted.
        available = product is not None and product.active and product.currency == currency
        unit = product.price_amount if product is not None and available else line.seen_unit_price_amount
        previous = line.seen_unit_price_amount if available and unit != line.seen_unit_price_amount else None
        priced.append(PricedLine(line, product, available, unit, previous))
        if not available:
            notices.append(
                Notice(
                    PRODUCT_UNAVAILABLE,
                    line.id,
                    line.product_id,
                    "This product can no longer be bought.",
                    variant_id=line.variant_id,
                )
            )
        elif previous is not None:
            notices.append(
                Notice(
                    PRICE_CHANGED,
                    line.id,
                    line.product_id,
                    "The price changed since you saw it.",
                    variant_id=line.variant_id,
                )
            )
    weight = sum(product_weight(line.product) * line.line.quantity for line in priced if line.available)
    notices.extend(inputs.notices)
    price = cart_price(priced, currency=currency, inputs=inputs)
    return CartView(cart, priced, currency, price, weight, notices)


def bought_subtotal(lines: Sequence[PricedLine]) -> int:
    return sum(line.line_total for line in lines if line.available)
