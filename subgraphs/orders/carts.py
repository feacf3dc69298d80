"""Carts: a signed-in customer's (one ACTIVE cart per user, on every device) or a guest's (an opaque token).

Who may act on a cart: its owner, or the holder of its guest token; any other cart answers NOT_FOUND, like a
missing one. A guest token is 256 random bits, stored only as its SHA-256 (a leaked table opens no cart).
Every change locks the cart's row first, so two tabs adding the same product add up instead of racing.
A line is a product VARIANT (one line per variant); `productId` alone names a product's one active variant.

A cart is shown and priced by cart_view.py from the catalog's current prices when it is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.addresses import validate_address
from shared.auth import Principal, Role
from shared.context import Context
from shared.errors import BadUserInput, Conflict, Forbidden, NotFound, Unauthenticated
from shared.ids import parse_uuid, uuid_or_none
from shared.peers import PeerError
from shared.ratelimit import Limit, RateLimiter
from subgraphs.orders import cart_pricing, cart_repository
from subgraphs.orders.cart_view import (
    CartView,
    PriceInputs,
    price_lines,
    pricing_lines,
)
from subgraphs.orders.models import Cart, CartLine, CartStatus
from subgraphs.orders.order_input import clean_ref, sold_item
from subgraphs.orders.peers import CatalogProduct, ItemRef, Peers, ShippingQuote
from subgraphs.orders.promotions import CartView as Evaluation
from subgraphs.orders.promotions import applicable_discounts
from subgraphs.orders.service import MAX_TOTAL, ServiceUnavailable
from subgraphs.orders.settings import OrdersSettings
from subgraphs.orders.state import OrdersState

MAX_CART_LINES = 100
MAX_QUANTITY = 1000
# Guest carts cost a row each and need no account: a client address creates at most this many.
GUEST_CARTS_PER_ADDRESS = Limit(30, 600)
# Voucher codes are guessable: a customer (or guest cart) tries this many, a client address a few carts'.
VOUCHER_TRIES_PER_CART = Limit(10, 600)
VOUCHER_TRIES_PER_ADDRESS = Limit(30, 600)
# A token is 43 characters (token_urlsafe(32)); anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 100
MAX_SHIPPING_METHOD_ID_LENGTH = 100
MAX_VOUCHER_LENGTH = 64
_VOUCHER = re.compile(r"[A-Z0-9][A-Z0-9_-]*")
# Who reads any cart by id (`_entities`): staff and services; guests' carts only services.
STAFF = (Role.ADMIN, Role.SERVICE)

# The address book's keys (users' GraphQL, camelCase) → the frozen copy's (AddressValue's fields).
_BOOK_FIELDS = {
    "name": "name",
    "company": "company",
    "line1": "line1",
    "line2": "line2",
    "city": "city",
    "postalCode": "postal_code",
    "region": "region",
    "country": "country",
    "phone": "phone",
}


# --- input rules ---


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_quantity(quantity: object, field_name: str = "quantity", *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if type(quantity) is not int or quantity < low or quantity > MAX_QUANTITY:
        raise BadUserInput(f"A quantity is {low} to {MAX_QUANTITY}.", field=field_name)
    return quantity


def clean_voucher(code: object) -> str:
    """A voucher code as stored and compared: trimmed, upper case."""
    text = code.strip().upper() if isinstance(code, str) else ""
    if not text or len(text) > MAX_VOUCHER_LENGTH or not _VOUCHER.fullmatch(text):
        raise BadUserInput(
            f"A voucher code is 1 to {MAX_VOUCHER_LENGTH} letters, digits, `-` or `_`.", field="code"
        )
    return text


def clean_method_id(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_SHIPPING_METHOD_ID_LENGTH:
        raise BadUserInput("Not a shipping method id.", field="methodId")
    return text


def book_address(entry: dict[str, Any]) -> dict[str, str]:
    """An address book entry (already validated by users) as the cart's frozen copy."""
    return {ours: str(entry.get(theirs) or "") for theirs, ours in _BOOK_FIELDS.items()}


@dataclass(frozen=True, slots=True)
class NewGuestCart:
    token: str
    cart: Cart


class CartService:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.state: OrdersState = context.runtime.state
        self.peers: Peers = self.state.saga.peers
        settings = context.settings
        assert isinstance(settings, OrdersSettings)
        self.settings = settings
        self.loaders = context.loaders.carts

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    # --- whose cart ---

    async def _signed_in(self) -> uuid.UUID:
        principal = await self.context.require_principal()
        if principal.user_id is None:
            raise Forbidden("Only a customer has a cart.")
        return uuid.UUID(principal.user_id)

    async def _cart(self, cart_token: str | None, *, for_update: bool = True) -> Cart:
        """The guest cart of `cart_token`, or (without one) the signed-in caller's cart, made on first use."""
        if cart_token is not None:
            cart = None
            if isinstance(cart_token, str) and 0 < len(cart_token) <= MAX_TOKEN_LENGTH:
                cart = await cart_repository.active_of_token(
                    self.session, hash_token(cart_token), for_update=for_update
                )
            if cart is None:
                raise NotFound("No such cart.", field="cartToken")
        else:
            cart = await cart_repository.active_of_user(
                self.session, await self._signed_in(), for_update=for_update
            )
        if for_update and cart.checkout_order_id is not None:
            # Its checkout's saga runs on the cart as it was; a change now would not be in the order.
            raise Conflict(
                "This cart is being checked out.",
                reason="CHECKOUT_IN_PROGRESS",
                orderId=str(cart.checkout_order_id),
            )
        return cart

    async def _changed(self, cart: Cart) -> None:
        cart.updated_at = cart.last_activity_at = datetime.now(UTC)
        await self.session.flush()
        # A second mutation of the same operation reads the lines as they are now (clear() of a key not
        # loaded yet raises KeyError in Strawberry's loader).
        with contextlib.suppress(KeyError):
            self.loaders.lines.clear(cart.id)

    async def _bare(self, cart: Cart) -> CartView:
        """The cart's lines at current prices, before discounts, shipping and tax."""
        lines = await self.loaders.lines.load(cart.id)
        return price_lines(cart, lines, await self.loaders.variants(lines))

    async def _own_line(self, cart: Cart, raw_id: object) -> CartLine:
        line_id = parse_uuid(raw_id, "lineId", "a cart line id")
        line = await cart_repository.line(self.session, line_id)
        if line is None or line.cart_id != cart.id:
            raise NotFound("No such line in this cart.", field="lineId")
        return line

    async def _variant(self, ref: ItemRef, field: str) -> CatalogProduct:
        """The variant a line adds, or the coded error (naming `field`) saying why not."""
        return sold_item(await self.loaders.catalog.load(ref), field)

    # --- reading ---

    async def cart(self, cart_token: str | None) -> Cart:
        return await self._cart(cart_token, for_update=False)

    async def by_reference(self, raw_id: object) -> Cart | None:
        """A cart by id for `_entities`: its owner, ADMIN or a service; a guest's cart a service only (the
        router reaches it in the same request as the `cart(cartToken:)` that proved the token)."""
        cart_id = uuid_or_none(raw_id)
        principal = await self.context.principal()
        if cart_id is None or principal is None:
            return None
        cart = await self.loaders.cart.load(cart_id)
        if cart is None or not _may_read(principal, cart):
            return None
        return cart

    async def view(self, cart: Cart, *, shown: bool) -> CartView:
        """The cart priced now. `shown` (its owner or token holder reads it): the current prices become the
        ones last seen, so a PRICE_CHANGED notice is told once, in this answer."""
        lines = await self.loaders.lines.load(cart.id)
        catalog = await self.loaders.variants(lines)
        bare = price_lines(cart, lines, catalog)
        view = price_lines(cart, lines, catalog, await self.price_inputs(bare))
        if shown and any(line.price_changed for line in view.lines):
            for priced in view.lines:
                if priced.price_changed:
                    priced.line.seen_unit_price_amount = priced.unit_amount
            await self.session.flush()
        return view

    async def quote(self, bare: CartView, method_id: str) -> ShippingQuote | None:
        return await cart_pricing.quote(self.loaders, bare, method_id)

    async def price_inputs(self, bare: CartView) -> PriceInputs:
        return await cart_pricing.price_inputs(self.loaders, bare, self.settings.prices_include_tax)

    # --- changing ---

    async def create_guest_cart(self) -> NewGuestCart:
        limiter = RateLimiter(self.context.redis, self.settings.redis_prefix)
        await limiter.enforce(
            f"orders:guest-cart:address:{self.context.client_ip}",
            GUEST_CARTS_PER_ADDRESS,
            "Too many carts from this address; try again later.",
        )
        token = secrets.token_urlsafe(32)
        return NewGuestCart(
            token=token, cart=await cart_repository.add_guest(self.session, hash_token(token))
        )

    async def add_line(
        self, cart_token: str | None, raw_product_id: object, quantity: object, raw_variant_id: object = None
    ) -> Cart:
        ref, field = clean_ref(raw_product_id, raw_variant_id)
        quantity = clean_quantity(quantity)
        cart = await self._cart(cart_token)
        product = await self._variant(ref, field)
        if cart.currency is not None and product.currency != cart.currency:
            raise BadUserInput(
                f"This cart is in {cart.currency}; the product is priced in {product.currency}.",
                field=field,
            )
        variant_id = uuid.UUID(product.id)
        line = await cart_repository.line_of_variant(self.session, cart.id, variant_id)
        if line is not None:
            line.quantity = clean_quantity(line.quantity + quantity)
            line.seen_unit_price_amount, line.seen_currency = product.price_amount, product.currency
        else:
            if await cart_repository.count_lines(self.session, cart.id) >= MAX_CART_LINES:
                raise Conflict(
                    f"A cart holds at most {MAX_CART_LINES} products.",
                    reason="CART_FULL",
                    limit=MAX_CART_LINES,
                )
            line = await cart_repository.add_line(
                self.session,
                cart.id,
                uuid.UUID(product.product_id or product.id),
                variant_id,
                quantity,
                product.price_amount,
                product.currency,
            )
        if product.price_amount * line.quantity > MAX_TOTAL:
            raise BadUserInput(f"A line's total is at most {MAX_TOTAL} minor units.", field="quantity")
        cart.currency = product.currency
        await self._changed(cart)
        return cart

    async def update_line(self, cart_token: str | None, raw_line_id: object, quantity: object) -> Cart:
        quantity = clean_quantity(quantity, allow_zero=True)
        cart = await self._cart(cart_token)
        line = await self._own_line(cart, raw_line_id)
        if quantity == 0:
            return await self._remove(cart, line)
        product = (await self.loaders.variants([line]))[str(line.variant_id)]
        if product is not None and product.active and product.currency == cart.currency:
            if product.price_amount * quantity > MAX_TOTAL:
                raise BadUserInput(f"A line's total is at most {MAX_TOTAL} minor units.", field="quantity")
            # The customer acted on the line as shown: its current price is the one they saw.
            line.seen_unit_price_amount = product.price_amount
        line.quantity = quantity
        await self._changed(cart)
        return cart

    async def remove_line(self, cart_token: str | None, raw_line_id: object) -> Cart:
        cart = await self._cart(cart_token)
        return await self._remove(cart, await self._own_line(cart, raw_line_id))

    async def _remove(self, cart: Cart, line: CartLine) -> Cart:
        await cart_repository.remove_line(self.session, line.id)
        if await cart_repository.count_lines(self.session, cart.id) == 0:
            cart.currency = None  # an empty cart takes the currency of its next first line
        await self._changed(cart)
        return cart

    async def _address(self, address_id: object, address: dict[str, Any] | None) -> dict[str, str]:
        """The frozen copy of an address: one from the caller's address book, or one given inline."""
        if (address_id is None) == (address is None):
            raise BadUserInput("Give either `addressId` or `address`.", field="address")
        if address is not None:
            return validate_address(address).as_dict()
        wanted = str(parse_uuid(address_id, "addressId", "an address id"))
        principal = await self.context.principal()
        if principal is None or principal.user_id is None:
            raise Unauthenticated("Sign in to use your address book.")
        try:
            book = await self.peers.address_book(principal.user_id)
        except PeerError as exc:
            raise ServiceUnavailable("The address book cannot be reached; try again.") from exc
        for entry in book or []:
            if entry.get("id") == wanted:
                return book_address(entry)
        raise NotFound("No such address in your address book.", field="addressId")

    async def set_shipping_address(
        self, cart_token: str | None, address_id: object, address: dict[str, Any] | None
    ) -> Cart:
        value = await self._address(address_id, address)
        cart = await self._cart(cart_token)
        old_country = (cart.shipping_address or {}).get("country")
        if old_country != value["country"]:
            # A method belongs to a zone of countries: another country needs a method chosen again.
            cart.shipping_method_id = None
        cart.shipping_address = value
        await self._changed(cart)
        return cart

    async def set_billing_address(
        self, cart_token: str | None, address_id: object, address: dict[str, Any] | None
    ) -> Cart:
        value = await self._address(address_id, address)
        cart = await self._cart(cart_token)
        cart.billing_address = value
        await self._changed(cart)
        return cart

    async def set_shipping_method(self, cart_token: str | None, method_id: object) -> Cart:
        """Shipping quotes the method for the cart as it is now; checkout asks again (the cart may change)."""
        method = clean_method_id(method_id)
        cart = await self._cart(cart_token)
        bare = await self._bare(cart)
        if bare.shipping_country is None:
            raise BadUserInput(
                "Set a shipping address first.", field="methodId", reason="SHIPPING_ADDRESS_REQUIRED"
            )
        if not any(line.available for line in bare.lines):
            raise BadUserInput("The cart is empty.", field="methodId", reason="CART_EMPTY")
        quote = await self.quote(bare, method)
        if quote is None or quote.price_amount is None:
            reason = quote.reason if quote is not None else "UNKNOWN"
            if reason == "SERVICE_UNAVAILABLE":
                raise ServiceUnavailable("Shipping cannot be reached; try again.")
            raise BadUserInput(
                "This shipping method is not available for this cart.", field="methodId", reason=reason
            )
        cart.shipping_method_id = method
        await self._changed(cart)
        return cart

    async def apply_voucher(self, cart_token: str | None, code: object) -> Cart:
        """Applied only when it applies now (VOUCHER_* reasons, field `code`); tries are rate limited per cart
        and per client address, so codes cannot be guessed."""
        voucher = clean_voucher(code)
        cart = await self._cart(cart_token)
        limiter = RateLimiter(self.context.redis, self.settings.redis_prefix)
        await limiter.enforce(
            f"orders:voucher:cart:{cart.user_id or cart.id}",
            VOUCHER_TRIES_PER_CART,
            "Too many voucher codes tried; try again later.",
        )
        await limiter.enforce(
            f"orders:voucher:address:{self.context.client_ip}",
            VOUCHER_TRIES_PER_ADDRESS,
            "Too many voucher codes tried from this address; try again later.",
        )
        bare = await self._bare(cart)
        lines = pricing_lines(bare.lines)
        if not lines:
            raise BadUserInput("Add a product before a voucher.", field="code", reason="CART_EMPTY")
        shipping = 0
        if cart.shipping_method_id is not None:
            quote = await self.quote(bare, cart.shipping_method_id)
            shipping = quote.price_amount or 0 if quote is not None else 0
        evaluation = Evaluation(
            lines=lines,
            currency=bare.currency,
            now=datetime.now(UTC),
            user_id=cart.user_id,
            shipping_amount=shipping,
        )
        await applicable_discounts(self.session, evaluation, voucher)  # raises VoucherRefused
        cart.voucher_code = voucher
        await self._changed(cart)
        return cart

    async def remove_voucher(self, cart_token: str | None) -> Cart:
        cart = await self._cart(cart_token)
        cart.voucher_code = None
        await self._changed(cart)
        return cart

    async def merge_guest_cart(self, cart_token: object) -> Cart:
        """Move the guest cart's lines into the signed-in caller's (quantities of a variant add up, capped at
        MAX_QUANTITY); my addresses, method and voucher stay unless I had none. The guest cart ends MERGED
        and its token stops working."""
        user_id = await self._signed_in()
        if not isinstance(cart_token, str):
            raise NotFound("No such cart.", field="cartToken")
        # Lock order guest → mine, the same in every merge, so two merges never wait on each other.
        guest = await self._cart(cart_token)
        mine = await cart_repository.active_of_user(self.session, user_id, for_update=True)
        lines = await cart_repository.lines_of(self.session, [guest.id, mine.id])
        guest_lines, my_lines = lines[guest.id], lines[mine.id]
        if guest_lines and my_lines and guest.currency != mine.currency:
            raise Conflict(
                f"Your cart is in {mine.currency}; the guest cart in {guest.currency}.", reason="CURRENCY"
            )
        by_variant = {line.variant_id: line for line in my_lines}
        new_products = [line for line in guest_lines if line.variant_id not in by_variant]
        if len(my_lines) + len(new_products) > MAX_CART_LINES:
            raise Conflict(
                f"A cart holds at most {MAX_CART_LINES} products.", reason="CART_FULL", limit=MAX_CART_LINES
            )
        for line in guest_lines:
            existing = by_variant.get(line.variant_id)
            if existing is not None:
                existing.quantity = min(existing.quantity + line.quantity, MAX_QUANTITY)
            else:
                line.cart_id = mine.id  # the line moves, with the price its holder saw
        if guest_lines:
            mine.currency = mine.currency or guest.currency
        if mine.shipping_address is None and guest.shipping_address is not None:
            mine.shipping_address = guest.shipping_address
            mine.shipping_method_id = guest.shipping_method_id
        mine.billing_address = mine.billing_address or guest.billing_address
        mine.voucher_code = mine.voucher_code or guest.voucher_code
        guest.status = CartStatus.MERGED.value
        guest.token_hash = None
        await self.session.flush()
        # Lines left in the guest cart (added into mine) go with it.
        for line in guest_lines:
            if line.variant_id in by_variant:
                await cart_repository.remove_line(self.session, line.id)
        await self._changed(guest)
        await self._changed(mine)
        return mine


def _may_read(principal: Principal, cart: Cart) -> bool:
    if principal.has_any_role(Role.SERVICE):
        return True
    if cart.user_id is None:
        return False
    return principal.has_any_role(Role.ADMIN) or principal.is_user(cart.user_id)
