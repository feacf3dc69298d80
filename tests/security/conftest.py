"""The security suite's base: a router over MyShop's committed supergraph in front of the real subgraphs
of the test stack (tests/conftest.py), configured as `myshop up` runs it (edge JWT validation against
users' JWKS). tests/security/security_client.py speaks to it as customers, admins and attackers do.

`start_router(**config)` starts another router over the same stack (a file of this suite that needs other
settings); `router` is the module's default one; `shop` arranges products, customers and orders through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from security_client import Shop

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()


@pytest.fixture(scope="module")
def start_router(stack: Any) -> Iterator[Callable[..., ServerThread]]:
    """`start_router(**config)`: a router over MyShop's supergraph and this run's subgraphs, validating
    tokens at the edge with users' JWKS (as `myshop up` runs it) unless `config` says otherwise; stopped
    after the module's tests."""
    started: list[ServerThread] = []

    def start(**settings: Any) -> ServerThread:
        defaults = {
            "graphiql": False,
            "subgraph_urls": {name: f"{server.url}/graphql" for name, server in stack.servers.items()},
            "jwks_url": f"{stack.url('users')}/.well-known/jwks.json",
        }
        config = RouterConfig(**(defaults | settings))
        server = ServerThread(create_app(build_gateway(SUPERGRAPH, config), config)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def router(start_router: Callable[..., ServerThread]) -> ServerThread:
    return start_router()


@pytest.fixture
def shop(router: ServerThread, api: Any, issuer: Any) -> Shop:
    """The shop on an emptied stack (`api`), through the module's router."""
    return Shop(router, issuer)
