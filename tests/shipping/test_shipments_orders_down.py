"""Shipping does not wait for orders: it is ready without it (orders calls shipping too: no startup cycle),
and a shipment call that needs orders while it is away answers SERVICE_UNAVAILABLE, keeping nothing."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from shipments_shop import ShipmentsShop

from shared.app import create_subgraph_app
from shared.testing import ServerThread
from subgraphs import registry


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
