"""The services orders calls: products (prices, at ordering time), inventory and payments (saga steps).

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
    id: str
    name: str
    active: bool
    price_amount: int
    currency: str
    # For pricing (the tax rate's class), promotions (category scope) and shipping (cart weight).
    tax_class: str = "standard"
    weight_grams: int = 0  # 0 when the catalog does not know it
    category: str | None = None


@dataclass(frozen=True, slots=True)
class StepAnswer:
    """A peer's answer to a saga step: the reservation's or payment's id and status."""

    id: str
    status: str
    reason: str | None = None


CATALOG_QUERY = """
query OrderPrices($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Product { id name active price { amount currency } taxClass weight category }
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

    async def catalog(self, product_ids: list[str]) -> dict[str, CatalogProduct]:
        """The products that exist among `product_ids`, with their current price.

        A read, so a transient failure (a dropped connection, a busy peer) is retried a few times before
        the customer hears of it.
        """
        variables = {"representations": [{"__typename": "Product", "id": pid} for pid in product_ids]}
        for attempt in range(1, CATALOG_ATTEMPTS + 1):
            try:
                data = await self.products.call(CATALOG_QUERY, variables)
                break
            except PeerUnavailable:
                if attempt == CATALOG_ATTEMPTS:
                    raise
                await asyncio.sleep(CATALOG_BACKOFF.delay(attempt))
        return {entity["id"]: catalog_product(entity) for entity in data.get("_entities") or [] if entity}

    async def reserve_stock(self, key: str, order_id: str, lines: list[tuple[str, int]]) -> StepAnswer:
        items = [{"productId": product_id, "quantity": quantity} for product_id, quantity in lines]
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


def _answer(data: dict[str, Any], field: str, peer: str) -> StepAnswer:
    value = data.get(field)
    if not isinstance(value, dict) or "status" not in value:
        raise PeerUnavailable(peer, "SERVICE_UNAVAILABLE", f"{field} answered without a status")
    return StepAnswer(id=str(value.get("id")), status=str(value["status"]), reason=value.get("failureReason"))
