"""How the security suite speaks to a router: `ask` (one POST, its status, data and error codes) and `Shop`,
which arranges products in stock, registered customers and orders through the router."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.testing import ServerThread

PASSWORD = "correct horse battery"
REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { email } }"
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id } } }"
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id name } }"
ADJUST = 'mutation($id: ID!, $n: Int!) { adjustStock(productId: $id, delta: $n, reason: "security") { id } }'
PLACE = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status payment { id } } }"
STOCK = "query($id: ID!) { product(id: $id) { stock { available reserved onHand } } }"


class Answer:
    """A router's answer: status, body, and the `extensions.code`s of its errors."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.body: dict[str, Any] = response.json()

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def codes(self) -> list[str | None]:
        return [(error.get("extensions") or {}).get("code") for error in self.body.get("errors") or []]

    def ok(self) -> Any:
        assert self.status_code == 200 and "errors" not in self.body, self.body
        return self.data


async def ask(
    router: ServerThread,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One POST to the router's /graphql, as a client sends it."""
    sent = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            f"{router.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=sent | (headers or {}),
        )
    return Answer(response)


class Customer:
    def __init__(self, user_id: str, email: str, token: str) -> None:
        self.id, self.email, self.token = user_id, email, token


class Shop:
    """Arranges through the router what a test needs: products in stock, registered customers, orders."""

    def __init__(self, router: ServerThread, issuer: Any) -> None:
        self.router = router
        self.issuer = issuer
        self.admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token

    async def ask(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> Answer:
        return await ask(self.router, query, variables, token=token)

    async def product(self, *, stock: int, price: int = 990) -> str:
        sku = f"SEC-{uuid.uuid4().hex[:8].upper()}"
        product = {"sku": sku, "name": f"Security {sku}", "description": "",
                   "price": {"amount": price, "currency": "USD"}, "category": "Security"}  # fmt: skip
        created = (await self.ask(CREATE, {"input": product}, self.admin)).ok()["createProduct"]
        if stock:
            (await self.ask(ADJUST, {"id": created["id"], "n": stock}, self.admin)).ok()
        return created["id"]  # type: ignore[no-any-return]

    async def customer(self) -> Customer:
        """A customer registered through the router (a real users row), signed in."""
        email = f"sec-{uuid.uuid4().hex[:10]}@example.com"
        variables = {"input": {"email": email, "password": PASSWORD, "name": "Security Customer"}}
        (await self.ask(REGISTER, variables)).ok()  # signs nobody in: login does
        signed_in = (await self.ask(LOGIN, {"e": email, "p": PASSWORD})).ok()["login"]
        return Customer(signed_in["user"]["id"], email, signed_in["accessToken"])

    def signed_in(self) -> Customer:
        """A customer known only by a token the run's key signed (no users row): cheap, where a test needs
        many and no registration (argon2 makes each registration cost a tenth of a second)."""
        user_id = str(uuid.uuid4())
        return Customer(user_id, f"{user_id}@example.com", self.issuer.issue(user_id, ["CUSTOMER"]).token)

    async def place(self, customer: Customer, product: str, quantity: int = 1) -> Answer:
        order = {"items": [{"productId": product, "quantity": quantity}], "paymentMethod": "tok_approve",
                 "idempotencyKey": uuid.uuid4().hex}  # fmt: skip
        return await self.ask(PLACE, {"input": order}, customer.token)

    async def stock(self, product: str) -> dict[str, int]:
        return (await self.ask(STOCK, {"id": product})).ok()["product"]["stock"]  # type: ignore[no-any-return]
