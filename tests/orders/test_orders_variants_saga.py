"""The saga and checkout with variants: a cart of variants checks out into an order of those variants, and
inventory's own refusal of a variant no longer sold (NOT_SELLABLE) ends the order like OUT_OF_STOCK."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiohttp import web
from orders_shop import Shop, statuses
from test_orders_checkout import CHECKOUT, italian_shipping, ship_to_italy
from variant_shop import variant_product, variant_stock

from myshop.servers import free_port
from shared.app import create_subgraph_app
from shared.testing import ServerThread
from subgraphs import registry

ADD = "mutation A($v: ID!, $q: Int!) { cartAddLine(variantId: $v, quantity: $q) { id } }"
ORDER_ITEMS = (
    "query O($id: ID!) { order(id: $id) { items { variant { id } sku quantity unitPrice { amount } } } }"
)


class NotSellableInventory:
    """A proxy to inventory that refuses every `reserveStock` as inventory does for an archived variant
    (code NOT_SELLABLE) and forwards every other call (the saga's release) to the real inventory."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.refused = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if b"reserveStock" in body:
            self.refused += 1
            error = {"message": "This variant is no longer sold.", "extensions": {"code": "NOT_SELLABLE"}}
            return web.json_response({"data": None, "errors": [error]})
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(self.target, content=body, headers=headers)
        return web.Response(body=answer.content, status=answer.status_code, content_type="application/json")


@asynccontextmanager
async def serve(proxy: NotSellableInventory) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/graphql", proxy.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        await runner.cleanup()


@pytest.fixture
async def refusing_shop(
    shop: Shop, gql: Any, http: httpx.AsyncClient, stack: Any, api: Any
) -> AsyncIterator[tuple[Shop, NotSellableInventory]]:
    """The shop with `orders` answered by a server of its own whose inventory refuses reservations."""
    proxy = NotSellableInventory(api.url("inventory") + "/graphql")
    async with serve(proxy) as url:
        settings = stack.settings["orders"].model_copy(update={"inventory_url": url})
        server = ServerThread(create_subgraph_app(registry.load("orders"), settings)).start()
        try:

            def route(name: str) -> str:
                return server.url if name == "orders" else api.url(name)

            yield Shop(type(gql)(http, SimpleNamespace(url=route)), shop.issuer, shop.engines), proxy
        finally:
            server.stop()


async def test_a_reservation_refused_as_not_sellable_cancels_the_order_without_retrying(
    refusing_shop: tuple[Shop, NotSellableInventory],
) -> None:
    shop, proxy = refusing_shop
    product = await shop.product(stock=5)

    response = await shop.place(shop.customer(), [(product, 1)])

    assert response.error_codes == ["NOT_SELLABLE"]
    order = await shop.order(response.errors[0]["extensions"]["orderId"])
    assert (order["status"], order["failureCode"]) == ("CANCELLED", "NOT_SELLABLE")
    assert statuses(order) == ["PENDING", "CANCELLED"]
    assert proxy.refused == 1  # a refusal, not a transient failure: asked once
    assert await shop.payments_of(order["id"]) == []
    assert await shop.stock(product) == {"available": 5, "reserved": 0, "onHand": 5}


async def test_checking_out_a_cart_of_variants_orders_and_moves_each_variant(shop: Shop) -> None:
    # Given a cart with 2 M/Red (12.00) and 1 L/Blue (the product's 10.00), shipped to Italy
    shirt = await variant_product(
        shop,
        options={"Size": ["M", "L"], "Colour": ["Red", "Blue"]},
        variants=[
            ({"Size": "M", "Colour": "Red"}, 1200, None),
            ({"Size": "L", "Colour": "Blue"}, None, None),
        ],
        price=1000,
        currency="EUR",
        stock=4,
    )
    red, blue = shirt.variant(Size="M", Colour="Red"), shirt.variant(Size="L", Colour="Blue")
    customer = shop.customer()
    method = await italian_shipping(shop)
    cart = ""
    for variant, quantity in ((red, 2), (blue, 1)):
        added = await shop.gql("orders", ADD, {"v": variant.id, "q": quantity}, token=customer.token)
        cart = added.ok()["cartAddLine"]["id"]
    await ship_to_italy(shop, customer, method)

    # When it is checked out
    placed = await shop.gql("orders", CHECKOUT, {"cart": cart, "key": uuid.uuid4().hex}, token=customer.token)

    # Then the order sells each variant at its price (2 x 12.00 + 10.00 + 5.00 shipping, 22% on all)
    order = placed.ok()["checkoutComplete"]
    assert order["status"] == "CONFIRMED"
    assert order["total"]["amount"] == (2400 + 1000 + 500) * 122 // 100
    items = (await shop.gql("orders", ORDER_ITEMS, {"id": order["id"]}, token=customer.token)).ok()
    assert items["order"]["items"] == [
        {"variant": {"id": red.id}, "sku": red.sku, "quantity": 2, "unitPrice": {"amount": 1200}},
        {"variant": {"id": blue.id}, "sku": blue.sku, "quantity": 1, "unitPrice": {"amount": 1000}},
    ]
    assert await variant_stock(shop, red.id) == {"available": 2, "reserved": 0, "onHand": 2}
    assert await variant_stock(shop, blue.id) == {"available": 3, "reserved": 0, "onHand": 3}
