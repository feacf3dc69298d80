"""Carts' GraphQL types, queries and mutations (merged into the orders schema by schema.py); rules in
carts.py. Every operation takes an optional `cartToken`: a guest's cart; without it, the caller's own."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.federation.schema_directives import Cost, Key, ListSize
from strawberry.types import Info

from shared.graphql_types import AddressInput, Money
from subgraphs.orders import models
from subgraphs.orders.cart_view import CartView, Notice, PricedLine
from subgraphs.orders.carts import MAX_CART_LINES, CartService
from subgraphs.orders.checkout_schema import (
    ROUNDING,
    TAX_RULE,
    TOTAL_RULE,
    PriceDiscount,
    TaxLine,
    tax_lines_of,
)
from subgraphs.orders.references import Product, ProductVariant


@strawberry.federation.type(keys=[Key(fields="id", resolvable=False)])
class ShippingMethod:
    id: strawberry.ID


@strawberry.type(
    description="A postal address frozen onto a cart (a later edit of the address book leaves it)."
)
class CartAddress:
    name: str
    company: str
    line1: str
    line2: str
    city: str
    postal_code: str
    region: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code.")
    phone: str = strawberry.field(description="E.164; empty when none.")

    @classmethod
    def of(cls, value: dict[str, str] | None) -> CartAddress | None:
        if value is None:
            return None
        return cls(**{name: str(value.get(name) or "") for name in cls.__annotations__})


@strawberry.enum(description="What a cart tells its customer about a line.")
class CartNoticeCode(enum.Enum):
    PRICE_CHANGED = "PRICE_CHANGED"
    PRODUCT_UNAVAILABLE = "PRODUCT_UNAVAILABLE"
    SHIPPING_METHOD_UNAVAILABLE = "SHIPPING_METHOD_UNAVAILABLE"
    VOUCHER_NOT_APPLICABLE = "VOUCHER_NOT_APPLICABLE"


@strawberry.type(description="Something the customer should know about a line before checking out.")
class CartNotice:
    code: CartNoticeCode
    line_id: strawberry.ID | None = strawberry.field(description="Null for the cart's method or voucher.")
    product_id: strawberry.ID | None
    variant_id: strawberry.ID | None = strawberry.field(
        description="The line's variant; null for the cart's."
    )
    message: str
    reason: str | None = strawberry.field(
        description="Shipping's reason (NOT_IN_ZONE, CURRENCY, WEIGHT, ARCHIVED, UNKNOWN) or the voucher's "
        "(VOUCHER_*)."
    )

    @classmethod
    def of(cls, notice: Notice) -> CartNotice:
        return cls(
            code=CartNoticeCode(notice.code),
            line_id=strawberry.ID(str(notice.line_id)) if notice.line_id is not None else None,
            product_id=strawberry.ID(str(notice.product_id)) if notice.product_id is not None else None,
            variant_id=strawberry.ID(str(notice.variant_id)) if notice.variant_id is not None else None,
            message=notice.message,
            reason=notice.reason,
        )


@strawberry.type(description="One product variant in a cart, at its current price.")
class CartLine:
    id: strawberry.ID
    product_id: strawberry.Private[str]
    variant_id: strawberry.Private[str]
    quantity: int
    unit_price: Money = strawberry.field(
        description="The catalog's price now (the last one seen when the product can no longer be bought)."
    )
    line_total: Money
    available: bool = strawberry.field(
        description="False when the product was archived, is gone or changed currency: not counted, kept."
    )
    price_changed: bool = strawberry.field(
        description="The price differs from the one the customer last saw."
    )
    previous_unit_price: Money | None = strawberry.field(description="The price last seen, when it changed.")
    discount: Money = strawberry.field(description=f"Its share of the discounts. {ROUNDING}")
    tax: Money = strawberry.field(description=f"{TAX_RULE}")
    total: Money = strawberry.field(
        description="After discount, with tax: what the line costs (0 unavailable)."
    )
    added_at: datetime

    @strawberry.field(description="The product (name, stock and the rest come from their subgraphs).")
    def product(self) -> Product:
        return Product(id=strawberry.ID(self.product_id))

    @strawberry.field(description="The variant in the cart (SKU, options, stock come from their subgraphs).")
    def variant(self) -> ProductVariant:
        return ProductVariant(id=strawberry.ID(self.variant_id))

    @classmethod
    def of(cls, priced: PricedLine, view: CartView) -> CartLine:
        line = priced.line
        currency = view.currency
        breakdown = view.line_prices.get(str(line.id))
        return cls(
            id=strawberry.ID(str(line.id)),
            product_id=str(line.product_id),
            variant_id=str(line.variant_id),
            quantity=line.quantity,
            unit_price=Money(amount=priced.unit_amount, currency=line.seen_currency),
            line_total=Money(amount=priced.line_total, currency=line.seen_currency),
            available=priced.available,
            price_changed=priced.price_changed,
            previous_unit_price=(
                Money(amount=priced.previous_amount, currency=currency)
                if priced.previous_amount is not None
                else None
            ),
            discount=Money(amount=breakdown.discount if breakdown else 0, currency=currency),
            tax=Money(amount=breakdown.tax if breakdown else 0, currency=currency),
            total=Money(amount=breakdown.total if breakdown else 0, currency=currency),
            added_at=line.added_at,
        )


@strawberry.federation.type(keys=["id"], description="A customer's or a guest's cart, priced now.")
class Cart:
    id: strawberry.ID
    currency: str | None = strawberry.field(description="The first line's currency; null while empty.")
    subtotal: Money = strawberry.field(
        description="Unit price now times quantity of the lines that can be bought, before discounts, tax."
    )
    discount_total: Money = strawberry.field(description=f"The lines' discounts. {ROUNDING}")
    shipping_price: Money = strawberry.field(
        description="The chosen method's price for this cart (0 without one, or when it is not available "
        "now: a SHIPPING_METHOD_UNAVAILABLE notice), after a free-shipping promotion; net or gross like the "
        "lines."
    )
    tax_total: Money = strawberry.field(description=f"The line taxes plus the shipping's. {TAX_RULE}")
    prices_include_tax: bool = strawberry.field(description="The store's setting: prices are gross.")
    total: Money = strawberry.field(description=f"What checking out would charge: {TOTAL_RULE}")
    weight_grams: int = strawberry.field(
        description="Product weight times quantity of the lines (0 when unknown)."
    )
    shipping_address: CartAddress | None
    billing_address: CartAddress | None
    shipping_country: str | None = strawberry.field(
        description="The shipping address's country (ISO alpha-2)."
    )
    shipping_method_id: strawberry.ID | None = strawberry.field(
        description="The chosen method; cleared when the shipping country changes."
    )
    voucher_code: str | None = strawberry.field(description="Upper case, as applied.")
    updated_at: datetime
    view: strawberry.Private[CartView]

    @strawberry.field(directives=[ListSize(assumed_size=MAX_CART_LINES)])
    def lines(self) -> list[CartLine]:
        return [CartLine.of(line, self.view) for line in self.view.lines]

    @strawberry.field(
        description="Price changes and products no longer sold, one per line concerned.",
        directives=[ListSize(assumed_size=MAX_CART_LINES)],
    )
    def notices(self) -> list[CartNotice]:
        return [CartNotice.of(notice) for notice in self.view.notices]

    @strawberry.field(
        description="The promotions and voucher that apply, in the order applied.",
        directives=[ListSize(assumed_size=2)],  # the best automatic promotion, then the voucher
    )
    def discounts(self) -> list[PriceDiscount]:
        return [PriceDiscount.of(line, self.view.currency) for line in self.view.price.discounts]

    @strawberry.field(
        description="The tax per (tax class, rate), shipping's in the standard line.",
        directives=[ListSize(assumed_size=3)],
    )
    def tax_lines(self) -> list[TaxLine]:
        return tax_lines_of(self.view.price.tax_lines, self.view.currency)

    @strawberry.field(description="The chosen shipping method (shipping's entity), if any.")
    def shipping_method(self) -> ShippingMethod | None:
        method = self.view.cart.shipping_method_id
        return ShippingMethod(id=strawberry.ID(method)) if method else None

    @classmethod
    def of(cls, view: CartView) -> Cart:
        row: models.Cart = view.cart
        return cls(
            id=strawberry.ID(str(row.id)),
            currency=row.currency,
            subtotal=Money(amount=view.price.subtotal, currency=view.currency),
            discount_total=Money(amount=view.price.discount_total, currency=view.currency),
            shipping_price=Money(amount=view.price.shipping, currency=view.currency),
            tax_total=Money(amount=view.price.tax_total, currency=view.currency),
            prices_include_tax=view.price.prices_include_tax,
            total=Money(amount=view.price.total, currency=view.currency),
            weight_grams=view.weight_grams,
            shipping_address=CartAddress.of(row.shipping_address),
            billing_address=CartAddress.of(row.billing_address),
            shipping_country=view.shipping_country,
            shipping_method_id=strawberry.ID(row.shipping_method_id) if row.shipping_method_id else None,
            voucher_code=row.voucher_code,
            updated_at=row.updated_at,
            view=view,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Cart | None:
        service = CartService(info.context)
        row = await service.by_reference(id)
        return cls.of(await service.view(row, shown=False)) if row is not None else None


async def _shown(info: Info, row: models.Cart) -> Cart:
    return Cart.of(await CartService(info.context).view(row, shown=True))


@strawberry.type(description="A new guest cart and the token that opens it (keep it: it is shown once).")
class CreatedCart:
    token: str
    cart: Cart


@strawberry.type
class CartQuery:
    @strawberry.field(
        description="A cart: the guest cart of `cartToken`, or the signed-in customer's (made on first use)."
    )
    async def cart(self, info: Info, cart_token: str | None = None) -> Cart:
        return await _shown(info, await CartService(info.context).cart(cart_token))


@strawberry.type
class CartMutation:
    @strawberry.mutation(
        description="Start a guest cart (no sign-in needed); rate limited per client address.",
        directives=[Cost(weight=10)],  # demand control: a row and a rate-limit count, refused in bulk
    )
    async def create_cart(self, info: Info) -> CreatedCart:
        created = await CartService(info.context).create_guest_cart()
        return CreatedCart(token=created.token, cart=await _shown(info, created.cart))

    @strawberry.mutation(
        description="Add a product variant (`variantId`; `productId` alone for a product with one active "
        "variant, else VARIANT_REQUIRED; both given must agree) — adds to its line when already there; the "
        f"cart's currency is its first line's. At most {MAX_CART_LINES} lines, each 1 to 1000."
    )
    async def cart_add_line(
        self,
        info: Info,
        product_id: strawberry.ID | None = None,
        quantity: int = 1,
        cart_token: str | None = None,
        variant_id: strawberry.ID | None = None,
    ) -> Cart:
        cart = await CartService(info.context).add_line(cart_token, product_id, quantity, variant_id)
        return await _shown(info, cart)

    @strawberry.mutation(description="Set a line's quantity (0 removes it).")
    async def cart_update_line(
        self, info: Info, line_id: strawberry.ID, quantity: int, cart_token: str | None = None
    ) -> Cart:
        return await _shown(info, await CartService(info.context).update_line(cart_token, line_id, quantity))

    @strawberry.mutation(description="Remove a line.")
    async def cart_remove_line(
        self, info: Info, line_id: strawberry.ID, cart_token: str | None = None
    ) -> Cart:
        return await _shown(info, await CartService(info.context).remove_line(cart_token, line_id))

    @strawberry.mutation(
        description="Ship to an address of your address book (`addressId`) or to one given (`address`), "
        "copied onto the cart. A new country clears the shipping method."
    )
    async def cart_set_shipping_address(
        self,
        info: Info,
        address_id: strawberry.ID | None = None,
        address: AddressInput | None = None,
        cart_token: str | None = None,
    ) -> Cart:
        raw = address.as_raw() if address is not None else None
        cart = await CartService(info.context).set_shipping_address(cart_token, address_id, raw)
        return await _shown(info, cart)

    @strawberry.mutation(description="Bill to an address of your address book or to one given, copied.")
    async def cart_set_billing_address(
        self,
        info: Info,
        address_id: strawberry.ID | None = None,
        address: AddressInput | None = None,
        cart_token: str | None = None,
    ) -> Cart:
        raw = address.as_raw() if address is not None else None
        cart = await CartService(info.context).set_billing_address(cart_token, address_id, raw)
        return await _shown(info, cart)

    @strawberry.mutation(
        description="Choose a shipping method: shipping quotes it for the cart now (BAD_USER_INPUT with "
        "`reason` NOT_IN_ZONE, CURRENCY, WEIGHT, ARCHIVED or UNKNOWN, field `methodId`); checkout asks again."
    )
    async def cart_set_shipping_method(
        self, info: Info, method_id: strawberry.ID, cart_token: str | None = None
    ) -> Cart:
        return await _shown(info, await CartService(info.context).set_shipping_method(cart_token, method_id))

    @strawberry.mutation(
        description="Apply a voucher code (one a cart; it replaces an earlier one) when it applies now; "
        "otherwise a VOUCHER_* `reason` (field `code`). Rate limited per customer and per client address.",
        directives=[Cost(weight=10)],  # demand control: a rate-limit count and the promotions' reads
    )
    async def cart_apply_voucher(self, info: Info, code: str, cart_token: str | None = None) -> Cart:
        return await _shown(info, await CartService(info.context).apply_voucher(cart_token, code))

    @strawberry.mutation(description="Remove the voucher code.")
    async def cart_remove_voucher(self, info: Info, cart_token: str | None = None) -> Cart:
        return await _shown(info, await CartService(info.context).remove_voucher(cart_token))

    @strawberry.mutation(
        description="Signed in: move a guest cart's lines into your cart (quantities add up); your addresses "
        "stay unless you had none. The guest cart's token stops working."
    )
    async def merge_guest_cart(self, info: Info, cart_token: str) -> Cart:
        return await _shown(info, await CartService(info.context).merge_guest_cart(cart_token))
