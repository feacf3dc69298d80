"""A cart as shown and priced: its lines at the catalog's current prices (the price the customer last saw kept
beside, so a change is told), lines that can no longer be bought flagged and left out of the sums, its weight,
and its price through `cart_price` (the one place pricing enters)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from subgraphs.orders.models import Cart, CartLine
from subgraphs.orders.peers import CatalogProduct

# An empty cart has no currency; its zero subtotal is given in this one (Money needs a currency).
EMPTY_CART_CURRENCY = "USD"
PRICE_CHANGED = "PRICE_CHANGED"
PRODUCT_UNAVAILABLE = "PRODUCT_UNAVAILABLE"


# --- pricing (the one place stage 2 changes) ---


@dataclass(frozen=True, slots=True)
class CartPrice:
    subtotal: int
    discount_total: int
    shipping: int
    tax_total: int
    total: int


def cart_price(lines: Sequence[PricedLine], *, currency: str) -> CartPrice:
    """The cart's price. Stage 1's placeholder: the subtotal of the lines that can be bought, no discount,
    shipping or tax; stage 2 calls `pricing.price(...)` here (with the voucher, shipping and tax table)."""
    subtotal = sum(line.line_total for line in lines if line.available)
    return CartPrice(subtotal=subtotal, discount_total=0, shipping=0, tax_total=0, total=subtotal)


def product_weight(product: CatalogProduct | None) -> int:
    """The product's weight in grams, 0 when unknown."""
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
    line_id: uuid.UUID
    product_id: uuid.UUID
    message: str


@dataclass(frozen=True, slots=True)
class CartView:
    cart: Cart
    lines: list[PricedLine]
    currency: str
    price: CartPrice
    weight_grams: int
    notices: list[Notice] = field(default_factory=list)

    @property
    def shipping_country(self) -> str | None:
        address = self.cart.shipping_address
        return address.get("country") or None if address else None


def price_lines(cart: Cart, lines: list[CartLine], catalog: dict[str, CatalogProduct | None]) -> CartView:
    currency = cart.currency or EMPTY_CART_CURRENCY
    priced: list[PricedLine] = []
    notices: list[Notice] = []
    for line in lines:
        product = catalog.get(str(line.product_id))
        # Archived, gone from the catalog, or now priced in another currency: shown, flagged, not counted.
        available = product is not None and product.active and product.currency == currency
        unit = product.price_amount if product is not None and available else line.seen_unit_price_amount
        previous = line.seen_unit_price_amount if available and unit != line.seen_unit_price_amount else None
        priced.append(PricedLine(line, product, available, unit, previous))
        if not available:
            notices.append(
                Notice(PRODUCT_UNAVAILABLE, line.id, line.product_id, "This product can no longer be bought.")
            )
        elif previous is not None:
            notices.append(
                Notice(PRICE_CHANGED, line.id, line.product_id, "The price changed since you saw it.")
            )
    weight = sum(product_weight(line.product) * line.line.quantity for line in priced if line.available)
    return CartView(cart, priced, currency, cart_price(priced, currency=currency), weight, notices)
