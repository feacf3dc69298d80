"""The reference storefront (examples/storefront/dist) in a real browser against the real stack: Debian's
Chromium driven by playwright-core (storefront_browser.mjs), the built site served by a small static server,
the router over MyShop's supergraph allowing the site's origin (CORS), images and uploads on.

One customer's session: search with a facet, product page with a variant and its image, a guest's cart,
registering at checkout (the cart merged), address + shipping method + voucher, checkout with `tok_approve`,
and the order page reaching CONFIRMED through the subscription, then CANCELLED live when the order is
cancelled from outside the page; then at a phone's width the account pages: the email confirmed and the
password reset from the mails' links (their codes read from users' outbox, as notifications would mail
them), and a sign-in with the new password.
Screenshots: build/test-artifacts/storefront/."""

from __future__ import annotations

import asyncio
import io
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from browsers import needs_browser
from eventually import eventually
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from myshop import sites
from shared.sealed import unseal
from shared.settings import ServiceSettings
from shared.testing import ServerThread
from subgraphs.users.models import outbox

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "examples" / "storefront" / "dist"
SCRIPT = Path(__file__).with_name("storefront_browser.mjs")
ARTIFACTS = REPO / "build" / "test-artifacts" / "storefront"
SUPERGRAPH = (REPO / "schema" / "supergraph.graphql").read_text()
PREFLIGHT = {"apollo-require-preflight": "true"}
COUNTRY = "AT"

pytestmark = needs_browser(DIST, also="the built storefront (`make storefront`)")

CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
SET_OPTIONS = """
mutation O($id: ID!, $options: [ProductOptionInput!]!) {
  setProductOptions(productId: $id, options: $options) { id }
}"""
CREATE_VARIANT = """
mutation V($id: ID!, $input: ProductVariantInput!) {
  createProductVariant(productId: $id, input: $input) { id }
}"""
STOCK = """
mutation S($id: ID!) { adjustVariantStock(variantId: $id, delta: 20, reason: "storefront test") { id } }
"""
ADD_IMAGE = """
mutation I($productId: ID!, $file: Upload!) {
  addProductMedia(productId: $productId, file: $file, alt: "Front") { id }
}"""
ZONE = 'mutation Z($countries: [String!]!) { createShippingZone(name: "AT", countries: $countries) { id } }'
METHOD = "mutation M($input: CreateShippingMethodInput!) { createShippingMethod(input: $input) { id } }"
PROMOTION = "mutation P($input: PromotionInput!) { createPromotion(input: $input) { id } }"
# The codes the script asks for: (users' event, its sealed field, the seal's purpose).
MAILED = {
    "verification": ("UserRegistered", "verificationToken", "email-verification"),
    "reset": ("PasswordResetRequested", "token", "password-reset"),
}
ORDER = "query O($id: ID!) { order(id: $id) { status statusHistory { status } items { quantity } } }"


@pytest.fixture(scope="module")
def storefront(stack: Any, start_router: Callable[..., ServerThread]) -> Iterator[tuple[str, str]]:
    """(the storefront's URL, the router's URL): the router allows the storefront's origin."""
    config: dict[str, Any] = {}
    # Served as `myshop up` serves it (myshop/sites.py: the page for client-side routes, its security policy).
    server = ServerThread(sites.site_app(DIST, config))
    router = start_router(
        SUPERGRAPH,
        subgraph_urls={name: f"{s.url}/graphql" for name, s in stack.servers.items()},
        cors={"origins": [server.url]},
        uploads={"enabled": True},
        media={"enabled": True},
    )
    config.update(graphqlUrl=f"{router.url}/graphql", websocketUrl=None)
    server.start()
    yield server.url, router.url
    server.stop()


async def call(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str) -> Any:
    headers = {"authorization": f"Bearer {token}"}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (31, 95, 191)).save(out, "PNG")
    return out.getvalue()


async def add_image(client: httpx.AsyncClient, product: str, admin: str) -> None:
    operations = {"query": ADD_IMAGE, "variables": {"productId": product, "file": None}}
    response = await client.post(
        "/graphql",
        data={"operations": orjson.dumps(operations).decode(), "map": '{"0": ["variables.file"]}'},
        files={"0": ("front.png", png(), "image/png")},
        headers={**PREFLIGHT, "authorization": f"Bearer {admin}"},
    )
    assert "errors" not in response.json(), response.text


async def seed_shop(client: httpx.AsyncClient, admin: str, word: str) -> dict[str, str]:
    """A T-shirt in sizes S (25.00) and M (29.00), stocked, with an image; a shipping zone of AT with a flat
    4.90 method; a 10% voucher."""
    name = f"Trail tee {word}"
    product_input = {
        "sku": f"TEE-{word.upper()}",
        "name": name,
        "description": f"A light running tee ({word}).",
        "price": {"amount": 2500, "currency": "EUR"},
        "category": "Storefront tests",
        "weight": 150,
    }
    product = (await call(client, CREATE_PRODUCT, {"input": product_input}, admin))["createProduct"]["id"]
    sizes = [{"name": "Size", "values": ["S", "M"]}]
    await call(client, SET_OPTIONS, {"id": product, "options": sizes}, admin)
    medium_input = {
        "sku": f"TEE-{word.upper()}-M",
        "price": {"amount": 2900, "currency": "EUR"},
        "optionValues": [{"name": "Size", "value": "M"}],
    }
    medium = (await call(client, CREATE_VARIANT, {"id": product, "input": medium_input}, admin))[
        "createProductVariant"
    ]["id"]
    for variant in (product, medium):
        # Inventory learns of a new variant from products' events: stock it once it knows it.
        await eventually(
            lambda variant=variant: client.post(
                "/graphql",
                json={"query": STOCK, "variables": {"id": variant}},
                headers={"authorization": f"Bearer {admin}"},
            ),
            lambda response: "errors" not in response.json(),
            within=30,
            every=0.2,
            what=f"variant {variant} stocked",
        )
    await add_image(client, product, admin)
    zone = (await call(client, ZONE, {"countries": [COUNTRY]}, admin))["createShippingZone"]["id"]
    method_input = {
        "zoneId": zone,
        "name": "Post AT",
        "minDeliveryDays": 1,
        "maxDeliveryDays": 3,
        "currency": "EUR",
        "rateKind": "FLAT",
        "flatPrice": 490,
    }
    await call(client, METHOD, {"input": method_input}, admin)
    voucher = f"WELCOME-{word.upper()}"
    promotion = {"name": "Welcome 10%", "kind": "PERCENTAGE", "value": 1000, "code": voucher}
    await call(client, PROMOTION, {"input": promotion}, admin)
    return {"name": name, "search": word, "voucher": voucher}


async def mailed_code(users: AsyncEngine, what: str, email: str) -> str:
    """The newest code of `what` mailed to `email`, read from users' outbox and unsealed as notifications
    does before it mails it."""
    event_type, field, purpose = MAILED[what]
    table = outbox.table
    statement = select(table.c.payload).where(table.c.event_type == event_type).order_by(table.c.id)
    async with users.connect() as connection:
        payloads = [p for p in (await connection.scalars(statement)).all() if p.get("email") == email]
    assert payloads, f"no {event_type} for {email}"
    return unseal(ServiceSettings().service_secret, purpose, payloads[-1][field])


async def drive(scenario: dict[str, Any], answer: Callable[[str], Awaitable[str]]) -> dict[str, Any]:
    """Runs storefront_browser.mjs on `scenario`, answering what it asks; its report (the last line)."""
    with tempfile.TemporaryFile() as errors:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            orjson.dumps(scenario).decode(),
            cwd=REPO,  # the browser driver's own playwright-core
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
        assert process.stdin is not None and process.stdout is not None
        report: dict[str, Any] = {}
        async with asyncio.timeout(240):
            while line := await process.stdout.readline():
                message = orjson.loads(line)
                if "ask" in message:
                    process.stdin.write((await answer(message["ask"])).encode() + b"\n")
                    await process.stdin.drain()
                else:
                    report = message
            await process.wait()
        errors.seek(0)
        assert report, errors.read().decode()[-3000:]
    assert report["ok"], (report["problems"], report["steps"])
    assert process.returncode == 0
    return report


async def test_a_customer_searches_buys_and_follows_the_order_live(
    api: Any, storefront: tuple[str, str], issuer: Any, engines: dict[str, AsyncEngine]
) -> None:
    # Given a shop with a T-shirt in two sizes, shipping to AT and a voucher
    storefront_url, router_url = storefront
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    word = f"quokka{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=router_url, timeout=30) as client:
        shop = await seed_shop(client, admin, word)
    email = f"{word}@example.com"

    # When a customer goes through the storefront from the search to the order page, then to the account's
    # pages (the browser run fails on any failed request, page error or request to a third origin)
    scenario = {
        "storefrontUrl": storefront_url,
        "routerUrl": router_url,
        "artifacts": str(ARTIFACTS),
        "adminToken": admin,
        "country": COUNTRY,
        "voucher": shop["voucher"],
        "customer": {
            "name": "Stella Store",
            "email": email,
            "password": "correct horse battery",
            "newPassword": "a brand new passphrase",
        },
        "product": {
            "name": shop["name"],
            "search": shop["search"],
            "mediumPrice": "€29.00",
            "shippingMethod": "Post AT",
        },
    }
    report = await drive(scenario, lambda what: mailed_code(engines["users"], what, email))

    # Then the order the page followed is the customer's 2 x M, confirmed and then cancelled
    async with httpx.AsyncClient(base_url=router_url, timeout=30) as client:
        order = (await call(client, ORDER, {"id": report["orderId"]}, admin))["order"]
    assert [change["status"] for change in order["statusHistory"]][-2:] == ["CONFIRMED", "CANCELLED"]
    assert order["items"] == [{"quantity": 2}]
    laptop = ("search", "product", "cart", "checkout", "order", "order-cancelled")
    for name in (*laptop, "phone-search", "phone-order", "phone-account"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 0
