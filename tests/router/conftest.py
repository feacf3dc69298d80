"""The router tests' one way to run a router: `start_router(supergraph, **config)`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from edge_headers import OPS_TOKEN

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

# Every router these tests start (in process or as `myshop router`) opens `/metrics` to this token.
os.environ.setdefault("MYSHOP_ROUTER_OPS__TOKEN", OPS_TOKEN)


@pytest.fixture(scope="module")
def start_router() -> Iterator[Callable[..., ServerThread]]:
    """`start_router(supergraph, **config)` serves `supergraph` as `myshop router` does (GraphiQL off unless
    asked), on a free loopback port; `app_options` go to `create_app`. Every router started stops after the
    module's tests (a test may stop one sooner)."""
    started: list[ServerThread] = []

    def start(supergraph: str, *, app_options: dict[str, Any] | None = None, **settings: Any) -> ServerThread:
        config = RouterConfig(**{"graphiql": False, **settings})
        app = create_app(build_gateway(supergraph, config), config, **(app_options or {}))
        server = ServerThread(app).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
