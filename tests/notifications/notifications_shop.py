"""A small shop for the notifications tests: customers registered through users, products through products
and inventory, orders through orders; the events they make reach the stack's notifications service.

The notifications database and the event streams are read directly only to check what the service did.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventually import eventually
from mail_catcher import MailCatcher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.outbox import Event, stream_name

GROUP = "notifications"
PRODUCERS = ("users", "products", "inventory", "orders")

REGISTER = """
mutation Register($input: RegisterInput!) { register(input: $input) { email } }"""
# Register signs nobody in: the sign-in right after it.
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken user { id email name } }
}"""
CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
UPDATE_PRODUCT = (
    "mutation U($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id } }"
)
ARCHIVE_PRODUCT = "mutation A($id: ID!) { archiveProduct(id: $id) { id } }"
ADJUST = """
mutation Adjust($id: ID!, $delta: Int!) {
  adjustStock(productId: $id, delta: $delta, reason: "test") { id }
}"""
PLACE = """
mutation Place($input: PlaceOrderInput!) {
  placeOrder(input: $input) { id status total { amount currency } }
}"""
CANCEL = "mutation Cancel($id: ID!) { cancelOrder(id: $id) { id status } }"
WATCH = "mutation W($id: ID!) { watchProduct(productId: $id) { product { id } createdAt } }"
UNWATCH = "mutation U($id: ID!) { unwatchProduct(productId: $id) }"
NOTIFICATION_FIELDS = """
  id channel kind subject body bodyHtml recipient status failureReason attempts createdAt sentAt user { id }
"""
USER_NOTIFICATIONS = f"""
query Notes($representations: [_Any!]!, $first: Int, $after: String) {{
  _entities(representations: $representations) {{
    ... on User {{
      notifications(first: $first, after: $after) {{
        edges {{ cursor node {{ {NOTIFICATION_FIELDS} }} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
  }}
}}"""
WATCHED = """
query Watched($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on User { watchedProducts { nodes { product { id } createdAt } } }
  }
}"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class Customer:
    id: str
    token: str
    email: str
    name: str


class Shop:
    def __init__(
        self, gql: Any, issuer: Any, engines: dict[str, AsyncEngine], redis: Any, mail: MailCatcher
    ) -> None:
        self.gql = gql
        self.issuer = issuer
        self.engines = engines
        self.redis = redis
        self.mail = mail
        self.admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
        self.prefix = os.environ["MYSHOP_REDIS_PREFIX"]
        settings = gql.stack.settings["notifications"]
        # What the stack's notifications service opens tokens with, and puts before its links.
        self.service_secret: str = settings.service_secret
        self.link_base: str = settings.account_link_base_url

    # --- arranging, through the services' APIs ---

    async def customer(self, tag: str = "", name: str = "Ann Example") -> Customer:
        """A registered customer with a unique address; `tag` ("+refuse", ...) steers the test SMTP server."""
        email = f"cust-{uuid.uuid4().hex[:10]}{tag}@example.com"
        password = "correct horse battery"
        registered = await self.gql(
            "users", REGISTER, {"input": {"email": email, "password": password, "name": name}}
        )
        registered.ok()
        payload = (await self.gql("users", SIGN_IN, {"email": email, "password": password})).ok()["login"]
        return Customer(payload["user"]["id"], payload["accessToken"], payload["user"]["email"], name)

    async def product(
        self, *, name: str = "Tea Kettle", price: int = 2500, currency: str = "USD", stock: int = 10
    ) -> str:
        product_input = {
            "sku": f"NTF-{uuid.uuid4().hex[:10].upper()}",
            "name": name,
            "description": "",
            "price": {"amount": price, "currency": currency},
            "category": "Tests",
        }
        created = await self.gql("products", CREATE_PRODUCT, {"input": product_input}, token=self.admin)
        product_id = created.ok()["createProduct"]["id"]
        if stock:
            await self.adjust(product_id, stock)
        return product_id

    async def set_price(self, product_id: str, amount: int, currency: str = "USD") -> None:
        changes = {"price": {"amount": amount, "currency": currency}}
        (
            await self.gql("products", UPDATE_PRODUCT, {"id": product_id, "input": changes}, token=self.admin)
        ).ok()

    async def archive(self, product_id: str) -> None:
        (await self.gql("products", ARCHIVE_PRODUCT, {"id": product_id}, token=self.admin)).ok()

    async def adjust(self, product_id: str, delta: int) -> None:
        (await self.gql("inventory", ADJUST, {"id": product_id, "delta": delta}, token=self.admin)).ok()

    async def place(
        self, customer: Customer, items: list[tuple[str, int]], method: str = "tok_approve"
    ) -> dict[str, Any]:
        order_input = {
            "items": [{"productId": product_id, "quantity": quantity} for product_id, quantity in items],
            "paymentMethod": method,
            "idempotencyKey": uuid.uuid4().hex,
        }
        return (await self.gql("orders", PLACE, {"input": order_input}, token=customer.token)).body

    async def watch(self, customer: Customer, product_id: str) -> Any:
        return await self.gql("notifications", WATCH, {"id": product_id}, token=customer.token)

    async def unwatch(self, customer: Customer, product_id: str) -> Any:
        return await self.gql("notifications", UNWATCH, {"id": product_id}, token=customer.token)

    async def notifications_of(
        self, user_id: str, token: str, first: int | None = None, after: str | None = None
    ) -> Any:
        variables = {
            "representations": [{"__typename": "User", "id": user_id}],
            "first": first,
            "after": after,
        }
        return await self.gql("notifications", USER_NOTIFICATIONS, variables, token=token)

    # --- the events ---

    def stream(self, producer: str) -> str:
        return stream_name(self.prefix, producer)

    async def event(
        self, producer: str, event_type: str, within: float = 10.0, **payload: Any
    ) -> tuple[Event, dict[Any, Any]]:
        """The first `event_type` event on the producer's stream whose payload has these values, and its raw
        fields (to deliver it again)."""

        async def first() -> tuple[Event, dict[Any, Any]] | None:
            for _, fields in await self.redis.xrange(self.stream(producer)):
                event = Event.from_fields(fields)
                if event.type == event_type and all(event.payload.get(k) == v for k, v in payload.items()):
                    return event, fields
            return None

        found = await eventually(
            first, within=within, what=f"{event_type} {payload} on {self.stream(producer)}"
        )
        assert found is not None
        return found

    async def publish(self, producer: str, event_type: str, **payload: Any) -> tuple[Event, dict[Any, Any]]:
        """An event on the producer's stream as its relay publishes it, for the events a test makes up (the
        account's events of users, with tokens sealed as users seals them). The event and its raw fields."""
        event = Event(
            id=uuid.uuid4(),
            type=event_type,
            producer=producer,
            version=1,
            occurred_at=datetime.now(UTC),
            payload=payload,
            aggregate_id=str(payload.get("userId") or "") or None,
        )
        fields: dict[Any, Any] = dict(event.to_fields())
        await self.redis.xadd(self.stream(producer), fields)
        return event, fields

    async def deliver_again(self, producer: str, fields: dict[Any, Any]) -> None:
        """The same event (same id) on the stream again, as a relay that died before its commit sends it."""
        await self.redis.xadd(self.stream(producer), fields)

    async def settled(self, within: float = 20.0) -> None:
        """Wait until the notifications consumer has handled everything on its streams (nothing undelivered,
        nothing pending) and no mail waits to be sent."""

        async def settled() -> bool:
            return await self._consumed() and not await self.rows(
                "SELECT id FROM notifications WHERE status = 'PENDING'"
            )

        await eventually(settled, within=within, what="the notifications service settled")

    async def _consumed(self) -> bool:
        """Every entry of every stream it reads was delivered to the group and acknowledged."""
        for producer in PRODUCERS:
            stream = self.stream(producer)
            if not await self.redis.exists(stream):
                continue
            last = (await self.redis.xinfo_stream(stream))["last-generated-id"]
            groups = {_text(info["name"]): info for info in await self.redis.xinfo_groups(stream)}
            info = groups.get(GROUP)
            if info is None or info["pending"] or _text(info["last-delivered-id"]) != _text(last):
                return False
        return True

    # --- checks, in the notifications database ---

    async def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self.engines["notifications"].connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(text(sql), params)]

    async def everything_stored(self) -> str:
        """Every row of every table of the notifications database, as text: to look for what must not be
        there."""
        tables = await self.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        dumped = []
        for table in (row["tablename"] for row in tables):
            rows = await self.rows(f'SELECT t::text AS row FROM "{table}" t')
            dumped.extend(f"{table}: {row['row']}" for row in rows)
        return "\n".join(dumped)

    async def notifications(self, user_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM notifications WHERE user_id = :user_id"
        if kind is not None:
            sql += " AND kind = :kind"
        return await self.rows(sql + " ORDER BY created_at", user_id=uuid.UUID(user_id), kind=kind)

    async def final(self, user_id: str, kind: str, within: float = 20.0) -> dict[str, Any]:
        """The user's one `kind` notification, once it is SENT or FAILED."""
        found = await eventually(
            lambda: self.notifications(user_id, kind),
            lambda rows: rows and all(row["status"] != "PENDING" for row in rows),
            within=within,
            what=f"a final {kind} notification for {user_id}",
        )
        assert len(found) == 1, found
        return found[0]
