"""The inventory API as the tests use it: its operations over HTTP, and what the database says behind it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

STOCK_FIELDS = "id stock { available reserved onHand } inStock"
STOCK = f"""
query Stock($representations: [_Any!]!) {{
  _entities(representations: $representations) {{ ... on Product {{ {STOCK_FIELDS} }} }}
}}
"""
VARIANT_STOCK = f"""
query VariantStock($representations: [_Any!]!) {{
  _entities(representations: $representations) {{ ... on ProductVariant {{ {STOCK_FIELDS} }} }}
}}
"""
ADJUST = f"""
mutation Adjust($productId: ID!, $delta: Int!, $reason: String!) {{
  adjustStock(productId: $productId, delta: $delta, reason: $reason) {{ {STOCK_FIELDS} }}
}}
"""
RESERVATION_FIELDS = "id key orderId status expiresAt lines { productId quantity }"
RESERVE = f"""
mutation Reserve($input: ReserveStockInput!) {{ reserveStock(input: $input) {{ {RESERVATION_FIELDS} }} }}
"""
CONFIRM = f"mutation Confirm($key: String!) {{ confirmReservation(key: $key) {{ {RESERVATION_FIELDS} }} }}"
RELEASE = f"""
mutation Release($key: String!, $reason: String!) {{
  releaseReservation(key: $key, reason: $reason) {{ {RESERVATION_FIELDS} }}
}}
"""
RESERVATION = f"query One($key: String!) {{ reservation(key: $key) {{ {RESERVATION_FIELDS} }} }}"


def new_product() -> str:
    return str(uuid.uuid4())


def new_key() -> str:
    return f"order-{uuid.uuid4()}:reserve"


def reserve_input(key: str, lines: list[tuple[str, int]], order_id: str | None = None) -> dict[str, Any]:
    return {
        "key": key,
        "orderId": order_id or str(uuid.uuid4()),
        "lines": [{"productId": product_id, "quantity": quantity} for product_id, quantity in lines],
    }


class Inventory:
    """The running inventory server, called as an admin (stock) or as the orders service (reservations)."""

    def __init__(
        self,
        gql: Any,
        *,
        admin_token: str,
        service_token: str,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.gql = gql
        self.admin_token = admin_token
        self.service_token = service_token
        self.sessions = sessions

    # --- over HTTP ---

    async def adjust(self, product_id: str, delta: int, reason: str = "received") -> dict[str, Any]:
        variables = {"productId": product_id, "delta": delta, "reason": reason}
        return (await self.gql("inventory", ADJUST, variables, token=self.admin_token)).ok()["adjustStock"]

    async def stocked(self, quantity: int) -> str:
        """A new product with `quantity` units on hand."""
        product_id = new_product()
        await self.adjust(product_id, quantity)
        return product_id

    async def stock(self, product_id: str) -> dict[str, int]:
        return (await self.products(product_id))[0]["stock"]

    async def variant_stock(self, variant_id: str) -> dict[str, int]:
        representations = [{"__typename": "ProductVariant", "id": variant_id}]
        return (await self.gql("inventory", VARIANT_STOCK, {"representations": representations})).ok()[
            "_entities"
        ][0]["stock"]

    async def products(self, *product_ids: str) -> list[dict[str, Any]]:
        representations = [{"__typename": "Product", "id": product_id} for product_id in product_ids]
        return (await self.gql("inventory", STOCK, {"representations": representations})).ok()["_entities"]

    async def reserve_call(
        self, key: str, lines: list[tuple[str, int]], order_id: str | None = None, token: str | None = None
    ) -> Any:
        variables = {"input": reserve_input(key, lines, order_id)}
        return await self.gql("inventory", RESERVE, variables, token=token or self.service_token)

    async def reserve(
        self, key: str, lines: list[tuple[str, int]], order_id: str | None = None
    ) -> dict[str, Any]:
        return (await self.reserve_call(key, lines, order_id)).ok()["reserveStock"]

    async def confirm_call(self, key: str) -> Any:
        return await self.gql("inventory", CONFIRM, {"key": key}, token=self.service_token)

    async def confirm(self, key: str) -> dict[str, Any]:
        return (await self.confirm_call(key)).ok()["confirmReservation"]

    async def release(self, key: str, reason: str = "payment declined") -> dict[str, Any]:
        variables = {"key": key, "reason": reason}
        return (await self.gql("inventory", RELEASE, variables, token=self.service_token)).ok()[
            "releaseReservation"
        ]

    async def reservation(self, key: str) -> dict[str, Any] | None:
        return (await self.gql("inventory", RESERVATION, {"key": key}, token=self.service_token)).ok()[
            "reservation"
        ]

    # --- behind the API ---

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.sessions() as session:
            return await session.scalar(text(sql), params)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.execute(text(sql), params)).all())

    async def lapse_reservations(self) -> None:
        """Move every live reservation's deadline a minute into the past."""
        async with self.sessions.begin() as session:
            await session.execute(
                text(
                    "UPDATE reservations SET expires_at = now() - interval '1 minute' "
                    "WHERE status = 'RESERVED'"
                )
            )

    async def ledger_disagreements(self) -> list[Any]:
        """Stock rows whose on_hand or reserved differ from the sums of their ledger rows (empty: agree)."""
        return await self.rows(
            """
            SELECT s.variant_id, s.on_hand, s.reserved, l.on_hand AS ledger_on_hand,
                   l.reserved AS ledger_reserved
            FROM stock_items s
            FULL JOIN (
                SELECT variant_id, sum(delta_on_hand) AS on_hand, sum(delta_reserved) AS reserved
                FROM stock_movements GROUP BY variant_id
            ) l ON l.variant_id = s.variant_id
            WHERE s.on_hand IS DISTINCT FROM coalesce(l.on_hand, 0)
               OR s.reserved IS DISTINCT FROM coalesce(l.reserved, 0)
            """
        )

    async def events(self, event_type: str, product_id: str | None = None) -> list[dict[str, Any]]:
        """Payloads of the outbox's `event_type` events (of one product when given), oldest first."""
        rows = await self.rows(
            "SELECT payload FROM outbox WHERE event_type = :type "
            "AND (CAST(:product AS text) IS NULL OR aggregate_id = :product) ORDER BY id",
            type=event_type,
            product=product_id,
        )
        return [row.payload for row in rows]
