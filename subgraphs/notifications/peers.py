"""The services notifications asks, with its SERVICE token: users (a recipient's address and name) and
products (a product's name, a variant's option values). Both are read in the event handler, inside the
consumer's transaction: a peer that is down fails the handler, and the consumer retries the event (then
dead-letters it), so a mail is never written with a guessed address."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.auth.service_tokens import ServiceTokens
from shared.peers import Peer, PeerUnavailable
from subgraphs.notifications.settings import NotificationsSettings

# Representations per `_entities` call: a fan-out to thousands of watchers is a few calls, none huge.
CHUNK = 200

_USERS = """
query NotificationRecipients($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { id email name } }
}"""

_PRODUCTS = """
query NotificationProducts($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Product { id name active } }
}"""


_VARIANTS = """
query NotificationVariants($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on ProductVariant { id active selectedOptions { value } product { id name active } }
  }
}"""


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: str
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class ProductInfo:
    id: str
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class VariantInfo:
    id: str
    product_name: str
    # Its option values in the product's order (`M / Red`); None for a product sold as one thing.
    label: str | None
    # Sold: the variant's own flag and its product's.
    active: bool

    @property
    def name(self) -> str:
        """What a mail calls it: `T-Shirt — M / Red`, or the product's name alone."""
        return f"{self.product_name} — {self.label}" if self.label else self.product_name


class Directory:
    """Who a user is and what a product is called, from their owners."""

    def __init__(self, settings: NotificationsSettings, tokens: ServiceTokens | None) -> None:
        timeout = settings.peer_timeout_seconds
        self.users = Peer("users", settings.users_url, tokens=tokens, timeout=timeout)
        self.products = Peer("products", settings.products_url, tokens=tokens, timeout=timeout)

    async def close(self) -> None:
        await self.users.close()
        await self.products.close()

    async def recipients(self, user_ids: Iterable[str]) -> dict[str, Recipient]:
        """The users that exist among `user_ids`; raises PeerUnavailable or PeerRefused."""
        found: dict[str, Recipient] = {}
        for entity in await self._entities(self.users, _USERS, "User", user_ids):
            found[entity["id"]] = Recipient(user_id=entity["id"], email=entity["email"], name=entity["name"])
        return found

    async def products_named(self, product_ids: Iterable[str]) -> dict[str, ProductInfo]:
        """The products that exist among `product_ids`."""
        found: dict[str, ProductInfo] = {}
        for entity in await self._entities(self.products, _PRODUCTS, "Product", product_ids):
            found[entity["id"]] = ProductInfo(id=entity["id"], name=entity["name"], active=entity["active"])
        return found

    async def variants_named(self, variant_ids: Iterable[str]) -> dict[str, VariantInfo]:
        """The product variants that exist among `variant_ids`, with their product's name."""
        found: dict[str, VariantInfo] = {}
        for entity in await self._entities(self.products, _VARIANTS, "ProductVariant", variant_ids):
            product = entity["product"]
            label = " / ".join(option["value"] for option in entity.get("selectedOptions") or [])
            found[entity["id"]] = VariantInfo(
                id=entity["id"],
                product_name=product["name"],
                label=label or None,
                active=bool(entity["active"] and product["active"]),
            )
        return found

    async def _entities(
        self, peer: Peer, query: str, typename: str, ids: Iterable[str]
    ) -> list[dict[str, Any]]:
        unique = list(dict.fromkeys(ids))
        entities: list[dict[str, Any]] = []
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            data = await peer.call(
                query, {"representations": [{"__typename": typename, "id": one} for one in chunk]}
            )
            answered = data.get("_entities")
            if not isinstance(answered, list) or len(answered) != len(chunk):
                raise PeerUnavailable(peer.name, "SERVICE_UNAVAILABLE", "_entities answered another list")
            entities.extend(entity for entity in answered if entity)
        return entities
