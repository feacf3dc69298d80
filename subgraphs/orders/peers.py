"""The services orders calls: products (prices, at ordering time), inventory and payments (saga steps).

What is sold is a product VARIANT (products' `ProductVariant`): the catalog read asks for variants, and for a
line naming only a product (the API before variants, still accepted) for the product with its active variants,
in one `_entities` call; `Catalog.resolve` then says which variant a line means, or why none.

Each method is one GraphQL call with a SERVICE token (`shared.peers`); the step methods carry the step's
idempotency key, so calling one again (a retry, a recovered saga) never acts twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from shared.backoff import Backoff
from shared.context import Runtime
from shared.peers import Peer, PeerUnavailable
from subgraphs.orders.settings import OrdersSettings

# A catalog read is tried this many times, with waits of up to 0.2 s then 0.4 s between (0.3 s on average).
CATALOG_ATTEMPTS = 3
CATALOG_BACKOFF = Backoff(0.2, 0.4)


@dataclass(frozen=True, slots=True)
class CatalogProduct:
    """What a line buys as the catalog says now: a variant (`id`) of a product (`product_id`), at the
    variant's effective price and weight, with its product's name, tax class and category. (`catalog_product`
    reads a bare `Product` entity into one too, the shape of the catalog before variants: `product_id`
    None.)"""

    id: str
    name: str
    # Sellable: the variant's own flag and its product's (a variant of an archived product is not sold).
    active: bool
    price_amount: int
    currency: str
    # For pricing (the tax rate's class), promotions (category scope) and shipping (cart weight).
    tax_class: str = "standard"
    weight_grams: int = 0  # 0 when the catalog does not know it
    category: str | None = None
    product_id: str | None = None
    sku: str | None = None
    # {option name: value} in the product's option order ({} for a product sold as one thing).
    option_values: tuple[tuple[str, str], ...] = ()

    @property
    def variant_label(self) -> str | None:
        """`M / Red` (its option values in the product's order), None for a product sold as one thing."""
        return " / ".join(value for _, value in self.option_values) or None


@dataclass(frozen=True, slots=True)
class ItemRef:
    """What a line names: a variant, or (the API before variants) a product, meaning its one active variant;
    both given must agree (the variant is the product's)."""

    variant_id: str | None = None
    product_id: str | None = None


# Why a reference names nothing to sell (Catalog.resolve); each is a coded error where a caller refuses it.
UNKNOWN = "NOT_FOUND"  # no such variant (or product)
VARIANT_REQUIRED = "VARIANT_REQUIRED"  # a product with several active variants: which one?
VARIANT_MISMATCH = "VARIANT_MISMATCH"  # the variant given is not the product given's
NOT_SOLD = "NOT_SOLD"  # the product has no active variant left


@dataclass(frozen=True, slots=True)
class Resolved:
    """A reference resolved: the variant it buys (maybe no longer `active`), or `problem` saying why none."""

    item: CatalogProduct | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Catalog:
    """One catalog read: variants by id, and products (by id) with their active variants."""

    variants: dict[str, CatalogProduct]
    products: dict[str, tuple[CatalogProduct, tuple[CatalogProduct, ...]]]

    def resolve(self, ref: ItemRef) -> Resolved:
        if ref.variant_id is not None:
            item = self.variants.get(ref.variant_id)
            if item is None:
                return Resolved(None, UNKNOWN)
            if ref.product_id is not None and ref.product_id != item.product_id:
                return Resolved(None, VARIANT_MISMATCH)
            return Resolved(item)
        assert ref.product_id is not None
        found = self.products.get(ref.product_id)
        if found is None:
            return Resolved(None, UNKNOWN)
        product, variants = found
        if not product.active:
            # Archived: what it names, flagged not sellable (callers say "no longer sold").
            return Resolved(variants[0] if len(variants) == 1 else product)
        if len(variants) > 1:
            return Resolved(None, VARIANT_REQUIRED)
        if not variants:
            return Resolved(None, NOT_SOLD)
        return Resolved(variants[0])


@dataclass(frozen=True, slots=True)
class StepAnswer:
    """A peer's answer to a saga step: the reservation's or payment's id and status."""

    id: str
    status: str
    reason: str | None = None


CATALOG_QUERY = """
query OrderPrices($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Product {
      id name active price { amount currency } taxClass weight category
      variants { id sku active price { amount currency } weight selectedOptions { name value } }
    }
    ... on ProductVariant {
      id sku active price { amount currency } weight selectedOptions { name value }
      product { id name active taxClass category }
    }
  }
}"""

_RESERVE = """
mutation Reserve($input: ReserveStockInput!) { reserveStock(input: $input) { id status } }"""
_CONFIRM = """
mutation Confirm($key: String!) { confirmReservation(key: $key) { id status } }"""
_RELEASE = """
mutation Release($key: String!, $reason: String!) {
  releaseReservation(key: $key, reason: $reason) { id status }
}"""
_CHARGE = """
mutation Charge($input: ChargePaymentInput!) { chargePayment(input: $input) { id status failureReason } }"""
_REFUND = """
mutation Refund($key: String!, $reason: String!) {
  refundPayment(key: $key, reason: $reason) { id status }
}"""
_REFUND_PARTIALLY = """
mutation RefundPartially($input: RefundPaymentPartiallyInput!) {
  refundPaymentPartially(input: $input) { id amount { amount currency } }
}"""
_RESTOCK_RETURN = """
mutation RestockReturn($input: RestockReturnInput!) { restockReturn(input: $input) }"""


class Peers:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        assert isinstance(settings, OrdersSettings)
        timeout = settings.step_timeout_seconds
        tokens = runtime.service_tokens

        def peer(name: str, url: str) -> Peer:
            return Peer(name, url, tokens=tokens, timeout=timeout, tracer=runtime.tracer)

        self.products = peer("products", settings.products_url)
        self.inventory = peer("inventory", settings.inventory_url)
        self.payments = peer("payments", settings.payments_url)
        self.users = peer("users", settings.users_url)
        self.shipping = peer("shipping", settings.shipping_url)

    async def close(self) -> None:
        for peer in (self.products, self.inventory, self.payments, self.users, self.shipping):
            await peer.close()

    async def catalog(self, refs: list[ItemRef]) -> Catalog:
        """What `refs` name now, in one `_entities` call: each variant asked for (with its product), and each
        product named without a variant with its active variants. Ids that name nothing are left out.

        A read, so a transient failure (a dropped connection, a busy peer) is retried a few times before
        the customer hears of it.
        """
        variant_ids = list(dict.fromkeys(ref.variant_id for ref in refs if ref.variant_id is not None))
        product_ids = list(
            dict.fromkeys(ref.product_id for ref in refs if ref.variant_id is None and ref.product_id)
        )
        representations = [{"__typename": "ProductVariant", "id": vid} for vid in variant_ids] + [
            {"__typename": "Product", "id": pid} for pid in product_ids
        ]
        if not representations:
            return Catalog({}, {})
        variables = {"representations": representations}
        for attempt in range(1, CATALOG_ATTEMPTS + 1):
            try:
                data = await self.products.call(CATALOG_QUERY, variables)
                break
            except PeerUnavailable:
                if attempt == CATALOG_ATTEMPTS:
                    raise
                await asyncio.sleep(CATALOG_BACKOFF.delay(attempt))
        entities = data.get("_entities") or []
        variants: dict[str, CatalogProduct] = {}
        products: dict[str, tuple[CatalogProduct, tuple[CatalogProduct, ...]]] = {}
        for index, entity in enumerate(entities[: len(representations)]):
            if not entity:
                continue
            if index < len(variant_ids):
                variants[entity["id"]] = catalog_variant(entity, entity["product"])
            else:
                product = catalog_product(entity)
                active = tuple(
                    catalog_variant(variant, entity)
                    for variant in entity.get("variants") or []
                    if variant["active"]
                )
                products[entity["id"]] = (product, active)
        return Catalog(variants, products)

    async def reserve_stock(self, key: str, order_id: str, lines: list[tuple[str, int]]) -> StepAnswer:
        """Reserve each (variant id, quantity): inventory keeps stock per variant."""
        items = [{"variantId": variant_id, "quantity": quantity} for variant_id, quantity in lines]
        data = await self.inventory.call(
            _RESERVE, {"input": {"key": key, "orderId": order_id, "lines": items}}
        )
        return _answer(data, "reserveStock", self.inventory.name)

    async def confirm_reservation(self, key: str) -> StepAnswer:
        return _answer(await self.inventory.call(_CONFIRM, {"key": key}), "confirmReservation", "inventory")

    async def release_reservation(self, key: str, reason: str) -> StepAnswer:
        data = await self.inventory.call(_RELEASE, {"key": key, "reason": reason})
        return _answer(data, "releaseReservation", "inventory")

    async def charge_payment(
        self, key: str, *, order_id: str, user_id: str, amount: int, currency: str, method: str
    ) -> StepAnswer:
        payment_input = {
            "key": key,
            "orderId": order_id,
            "userId": user_id,
            "amount": {"amount": amount, "currency": currency},
            "method": method,
        }
        data = await self.payments.call(_CHARGE, {"input": payment_input})
        return _answer(data, "chargePayment", "payments")

    async def refund_payment(self, key: str, reason: str) -> StepAnswer:
        return _answer(
            await self.payments.call(_REFUND, {"key": key, "reason": reason}), "refundPayment", "payments"
        )

    async def refund_payment_partially(
        self, key: str, *, order_id: str, amount: int, currency: str, reason: str
    ) -> str:
        """Give back `amount` of the order's payment once per key (a return's refund): the refund's id."""
        refund_input = {
            "key": key,
            "orderId": order_id,
            "amount": amount,
            "currency": currency,
            "reason": reason,
        }
        data = await self.payments.call(_REFUND_PARTIALLY, {"input": refund_input})
        refund = data.get("refundPaymentPartially")
        if not isinstance(refund, dict) or not refund.get("id"):
            raise PeerUnavailable("payments", "SERVICE_UNAVAILABLE", "refundPaymentPartially without an id")
        return str(refund["id"])

    async def restock_return(
        self, key: str, *, order_id: str, lines: list[tuple[str, int]], reason: str
    ) -> None:
        """Put a return's (variant id, quantity) units back on hand once per key."""
        restock_input = {
            "key": key,
            "orderId": order_id,
            "lines": [{"variantId": variant_id, "quantity": quantity} for variant_id, quantity in lines],
            "reason": reason,
        }
        data = await self.inventory.call(_RESTOCK_RETURN, {"input": restock_input})
        if data.get("restockReturn") is not True:
            raise PeerUnavailable("inventory", "SERVICE_UNAVAILABLE", "restockReturn did not answer true")

    async def address_book(self, user_id: str) -> list[dict[str, Any]] | None:
        """The user's addresses as users stores them (camelCase keys, each with its `id`); None when users
        knows no such user. A read for a cart (carts.py), with a SERVICE token."""
        representations = [{"__typename": "User", "id": user_id}]
        data = await self.users.call(_ADDRESS_BOOK, {"representations": representations})
        entities = data.get("_entities") or [None]
        user = entities[0]
        if not user:
            return None
        return list(user.get("addresses") or [])

    async def shipping_quote(
        self, method_id: str, *, country: str, subtotal_amount: int, currency: str, weight_grams: int
    ) -> ShippingQuote:
        """Shipping's price of `method_id` for a cart (a read, with a SERVICE token); `reason` says why not
        available (NOT_IN_ZONE, CURRENCY, WEIGHT, ARCHIVED, UNKNOWN)."""
        variables = {
            "methodId": method_id,
            "country": country,
            "subtotalAmount": subtotal_amount,
            "currency": currency,
            "weightGrams": weight_grams,
        }
        quote = (await self.shipping.call(_SHIPPING_QUOTE, variables)).get("shippingQuote") or {}
        if quote.get("available") and isinstance(quote.get("priceAmount"), int):
            return ShippingQuote(method_id, quote.get("name") or "", quote["priceAmount"], None)
        return ShippingQuote(method_id, quote.get("name") or "", None, quote.get("reason") or "UNKNOWN")


@dataclass(frozen=True, slots=True)
class ShippingQuote:
    method_id: str
    name: str
    price_amount: int | None  # None when not available
    reason: str | None  # why not available

    @property
    def available(self) -> bool:
        return self.price_amount is not None


_SHIPPING_QUOTE = """
query CartShippingQuote(
  $methodId: ID!, $country: String!, $subtotalAmount: Int!, $currency: String!, $weightGrams: Int!
) {
  shippingQuote(
    methodId: $methodId, country: $country, subtotalAmount: $subtotalAmount, currency: $currency,
    weightGrams: $weightGrams
  ) { methodId name priceAmount currency available reason }
}"""

_ADDRESS_BOOK = """
query CartAddressBook($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on User { addresses { id name company line1 line2 city postalCode region country phone } }
  }
}"""


def catalog_product(entity: dict[str, Any]) -> CatalogProduct:
    """A product of the `CATALOG_QUERY` answer."""
    return CatalogProduct(
        id=entity["id"],
        name=entity["name"],
        active=entity["active"],
        price_amount=entity["price"]["amount"],
        currency=entity["price"]["currency"],
        tax_class=entity.get("taxClass") or "standard",
        weight_grams=entity.get("weight") or 0,
        category=entity.get("category"),
    )


def catalog_variant(entity: dict[str, Any], product: dict[str, Any]) -> CatalogProduct:
    """A variant of the `CATALOG_QUERY` answer, with its product's (`product`) name, class and category."""
    return CatalogProduct(
        id=entity["id"],
        name=product["name"],
        active=bool(entity["active"] and product["active"]),
        price_amount=entity["price"]["amount"],
        currency=entity["price"]["currency"],
        tax_class=product.get("taxClass") or "standard",
        weight_grams=entity.get("weight") or 0,
        category=product.get("category"),
        product_id=product["id"],
        sku=entity.get("sku"),
        option_values=tuple(
            (str(option["name"]), str(option["value"])) for option in entity.get("selectedOptions") or []
        ),
    )


def _answer(data: dict[str, Any], field: str, peer: str) -> StepAnswer:
    value = data.get(field)
    if not isinstance(value, dict) or "status" not in value:
        raise PeerUnavailable(peer, "SERVICE_UNAVAILABLE", f"{field} answered without a status")
    return StepAnswer(id=str(value.get("id")), status=str(value["status"]), reason=value.get("failureReason"))
