"""Fixtures of the orders tests: the whole stack (users, products, inventory, payments, orders) and a shop."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from orders_shop import Shop

from shared.app import create_subgraph_app
from shared.testing import ServerThread
from subgraphs import registry


@pytest.fixture
def shop(gql: Any, issuer: Any, engines: dict[str, Any]) -> Shop:
    return Shop(gql, issuer, engines)


@pytest.fixture(scope="module")  # not the session: its pollers would run (and hold connections) to the end
def impatient_orders(stack: Any) -> Iterator[ServerThread]:
    """An orders server of its own whose saga gives up on a step after 1 s calls and a 1.5 s deadline (the
    stack's is patient, so a loaded machine never fails the other tests): for payment timeouts."""
    settings = stack.settings["orders"].model_copy(
        update={"step_timeout_seconds": 1.0, "step_deadline_seconds": 1.5}
    )
    server = ServerThread(create_subgraph_app(registry.load("orders"), settings)).start()
    yield server
    server.stop()


@pytest.fixture
def impatient_shop(
    shop: Shop, gql: Any, http: httpx.AsyncClient, impatient_orders: ServerThread, api: Any
) -> Shop:
    """The shop, with `orders` answered by the impatient server (every other service is the stack's)."""

    def url(name: str) -> str:
        return impatient_orders.url if name == "orders" else api.url(name)

    return Shop(type(gql)(http, SimpleNamespace(url=url)), shop.issuer, shop.engines)
