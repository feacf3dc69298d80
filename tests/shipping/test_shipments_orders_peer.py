"""Shipping's calls to orders: its client against the real orders (an order's lines; a refusal passed on with
orders' code), and shipping without orders: ready all the same (orders calls shipping too: no startup cycle),
while a shipment call that needs orders answers SERVICE_UNAVAILABLE, keeping nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from shipments_shop import ShipmentsShop

from shared.app import create_subgraph_app
from shared.auth.service_tokens import ServiceTokens
from shared.peers import Peer
from shared.testing import ServerThread
from subgraphs import registry
from subgraphs.shipping.peers import OrderRefused, OrdersPeer


@pytest.fixture(scope="module")
def shipping_without_orders(stack: Any) -> Iterator[ServerThread]:
    """A shipping server of its own whose orders URL answers nothing (port 9, discard: nothing listens)."""
    settings = stack.settings["shipping"].model_copy(update={"orders_url": "http://127.0.0.1:9/graphql"})
    server = ServerThread(create_subgraph_app(registry.load("shipping"), settings)).start()
    yield server
    server.stop()


async def test_without_orders_shipping_is_ready_and_shipments_answer_service_unavailable(
    shop: ShipmentsShop, shipping_without_orders: ServerThread, http: httpx.AsyncClient, api: Any
) -> None:
    _, order = await shop.order([1])
    ready = await http.get(f"{shipping_without_orders.url}/health/ready")

    def url(name: str) -> str:
        return shipping_without_orders.url if name == "shipping" else api.url(name)

    lonely = ShipmentsShop(
        type(shop.gql)(http, SimpleNamespace(url=url)), shop.issuer, shop.engines, shop.redis, shop.prefix
    )
    refused = await lonely.create(order["id"], [(1, 1)])

    assert ready.status_code == 200, ready.text
    assert refused.error_codes == ["SERVICE_UNAVAILABLE"]
    assert refused.errors[0]["extensions"].get("retryable") is True
    assert await shop.outbox() == []


async def test_the_orders_client_reads_an_orders_lines_and_passes_a_refusal_on_with_its_code(
    shop: ShipmentsShop, api: Any
) -> None:
    customer, order = await shop.order([2, 1])
    tokens = ServiceTokens("shipping", url="", secret="", http=None, issuer=shop.issuer)
    orders = OrdersPeer(Peer("orders", f"{api.url('orders')}/graphql", tokens=tokens, timeout=10))
    try:
        found = await orders.fulfillment_order(uuid.UUID(order["id"]))
        missing = await orders.fulfillment_order(uuid.uuid4())
        (await shop.cancel_order(customer, order["id"])).ok()
        with pytest.raises(OrderRefused) as refused:
            await orders.begin_order_shipment(uuid.UUID(order["id"]), uuid.uuid4())
    finally:
        await orders.close()

    assert found is not None and missing is None
    assert (str(found.user_id), found.status) == (customer.id, "CONFIRMED")
    assert [(line["line"], line["quantity"]) for line in found.lines] == [(1, 2), (2, 1)]
    assert found.lines[0]["productId"] == order["items"][0]["product"]["id"]
    extensions = refused.value.extensions
    assert (extensions["code"], extensions["field"], extensions["status"]) == (
        "ORDER_NOT_SHIPPABLE",
        "id",
        "CANCELLED",
    )
