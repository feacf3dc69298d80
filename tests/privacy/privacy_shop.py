"""A shopper's life through the router (sign up, address, watch, search, order), and the checks behind it:
every text column of every service's database searched for a string, consumers' progress, dead letters."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

PASSWORD = "correct horse battery"
# `{ __typename }`: whatever register answers (tokens or not), the account is signed in through login.
REGISTER = "mutation R($input: RegisterInput!) { register(input: $input) { __typename } }"
LOGIN = "mutation L($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken user { id } } }"  # noqa: E501
ADD_ADDRESS = "mutation A($input: AddressInput!) { addAddress(input: $input) { id } }"
WATCH = "mutation W($id: ID!) { watchProduct(productId: $id) { createdAt } }"
SEARCH = "query S($search: String!) { products(search: $search, first: 5) { totalCount } }"
PLACE = "mutation P($input: PlaceOrderInput!) { placeOrder(input: $input) { id status total { amount } } }"
CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation S($id: ID!) { adjustStock(productId: $id, delta: 20, reason: "privacy test") { id } }'
# A cart freezes a copy of the address (orders' carts): it must go with the user too.
CART_ADD = "mutation CA($id: ID!) { cartAddLine(productId: $id, quantity: 1) { id } }"
CART_SHIP_TO = "mutation CS($input: AddressInput!) { cartSetShippingAddress(address: $input) { id } }"
DELETE_ME = "mutation D($password: String!) { deleteMe(password: $password) }"
ME = "{ me { id email } }"
SALES = """
query Sales($from: DateTime!, $to: DateTime!) {
  salesSummary(from: $from, to: $to) { confirmedOrders grossRevenue { amount currency } }
}"""
# The column types a person's data can be written in.
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb")
CONSUMERS = ("notifications", "analytics", "products", "orders")


@dataclass
class Shopper:
    id: str
    email: str
    name: str
    token: str


class Shop:
    def __init__(self, client: httpx.AsyncClient, gql: Any, issuer: Any, engines: dict[str, AsyncEngine]):
        self.client = client
        self.gql = gql
        self.engines = engines
        self.admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token

    async def call(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> Any:
        """Through the router; the response body (data and errors)."""
        headers = {"authorization": f"Bearer {token}"} if token is not None else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        body = await self.call(query, variables, token)
        assert "errors" not in body, body
        return body["data"]

    async def sign_up(self, name: str) -> Shopper:
        email = f"privacy-{uuid.uuid4().hex[:10]}@example.com"
        await self.ok(REGISTER, {"input": {"email": email, "password": PASSWORD, "name": name}})
        signed_in = (await self.ok(LOGIN, {"email": email, "password": PASSWORD}))["login"]
        return Shopper(signed_in["user"]["id"], email, name, signed_in["accessToken"])

    async def product(self, price: int = 2500) -> str:
        sku = f"PRV-{uuid.uuid4().hex[:8].upper()}"
        product = {"sku": sku, "name": f"Privacy lamp {sku}", "description": "", "category": "Tests",
                   "price": {"amount": price, "currency": "USD"}}  # fmt: skip
        product_id = (await self.ok(CREATE_PRODUCT, {"input": product}, self.admin))["createProduct"]["id"]
        await self.ok(ADJUST, {"id": product_id}, self.admin)
        return product_id

    async def live(self, shopper: Shopper, product_id: str) -> dict[str, Any]:
        """Address, watch, a search, a confirmed order, a cart shipping to the address: what a shopper leaves
        behind. Returns the order."""
        address = {"name": shopper.name, "line1": "12 Privacy Lane", "city": "Springfield", "region": "IL",
                   "postalCode": "62701", "country": "US", "phone": "+1 217 555 0199"}  # fmt: skip
        await self.ok(ADD_ADDRESS, {"input": address}, shopper.token)
        await self.ok(WATCH, {"id": product_id}, shopper.token)
        await self.ok(SEARCH, {"search": "lamp"}, shopper.token)
        order_input = {
            "items": [{"productId": product_id, "quantity": 2}],
            "paymentMethod": "tok_approve",
            "idempotencyKey": uuid.uuid4().hex,
        }
        order = (await self.ok(PLACE, {"input": order_input}, shopper.token))["placeOrder"]
        assert order["status"] == "CONFIRMED", order
        # And a cart left behind, shipping to the same address.
        await self.ok(CART_ADD, {"id": product_id}, shopper.token)
        await self.ok(CART_SHIP_TO, {"input": address}, shopper.token)
        return order

    async def sales(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        window = {
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
        }
        return (await self.ok(SALES, window, self.admin))["salesSummary"]

    # --- behind the API (checks only) ---

    async def rows(self, service: str, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self.engines[service].connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(text(sql), params)]

    async def holders(self, needle: str) -> list[str]:
        """Every `service.schema.table.column` of text, varchar, char, json or jsonb type, in every schema of
        every service's database, whose value contains `needle` (case-insensitive)."""
        found: list[str] = []
        for service, engine in self.engines.items():
            async with engine.connect() as conn:
                columns = await conn.execute(
                    text(
                        "SELECT c.table_schema, c.table_name, c.column_name "
                        "FROM information_schema.columns c "
                        "JOIN information_schema.tables t USING (table_schema, table_name) "
                        "WHERE t.table_type = 'BASE TABLE' AND c.data_type = ANY(:types) "
                        "AND c.table_schema NOT IN ('pg_catalog', 'information_schema')"
                    ),
                    {"types": list(TEXT_TYPES)},
                )
                for schema, table, column in columns.all():
                    hits = await conn.scalar(
                        text(
                            f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}"::text ILIKE :needle'
                        ),
                        {"needle": f"%{needle}%"},
                    )
                    if hits:
                        found.append(f"{service}.{schema}.{table}.{column}")
        return found

    async def user_deleted_event(self, user_id: str) -> uuid.UUID | None:
        rows = await self.rows(
            "users",
            "SELECT event_id FROM outbox WHERE event_type = 'UserDeleted' AND payload->>'userId' = :id",
            id=user_id,
        )
        return rows[0]["event_id"] if rows else None

    async def consumers_done(self, event_id: uuid.UUID) -> list[str]:
        """The consumers that have processed `event_id`."""
        done = []
        for service in CONSUMERS:
            rows = await self.rows(
                service, "SELECT 1 FROM processed_events WHERE event_id = :id", id=event_id
            )
            if rows:
                done.append(service)
        return done

    async def searched_signed_in(self, shopper: Shopper, search: str) -> None:
        """A search products counted with the shopper's id, published (products records the id only when the
        request had verified the caller already, which a plain `products` query does not: written here)."""
        payload = {
            "search": search,
            "category": None,
            "resultCount": 0,
            "productIds": [],
            "userId": shopper.id,
        }
        async with self.engines["products"].begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO outbox (event_id, event_type, payload, published_at) "
                    "VALUES (:id, 'ProductSearched', CAST(:payload AS jsonb), now())"
                ),
                {"id": uuid.uuid4(), "payload": orjson.dumps(payload).decode()},
            )
