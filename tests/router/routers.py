"""How router tests run a router: one helper, so every test builds it as `myshop router` does
(router/server.py's build_gateway and create_app) instead of by hand.

`router_app(supergraph, **settings)` is the ASGI app over a supergraph SDL (or a built or stand-in gateway),
its RouterConfig made of `settings` with GraphiQL off unless asked; `start_router(...)` serves it on a free
loopback port and returns the running server, whose `app` is that RouterApp.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from router.config import RouterConfig
from router.http.app import RouterApp
from router.pipeline.entry import ServedGateway
from router.server import build_gateway, create_app
from shared.testing import ServerThread


class RouterServer(ServerThread):
    """A router on a loopback port, in a thread; `app` is its RouterApp."""

    def __init__(self, app: RouterApp) -> None:
        super().__init__(app)
        self.app = app

    def start(self, timeout: float = 10.0) -> RouterServer:
        super().start(timeout)
        return self


def router_app(
    supergraph: str | ServedGateway,
    config: RouterConfig | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    supergraph_file: Path | None = None,
    **settings: Any,
) -> RouterApp:
    """The app over `supergraph` (SDL, or a gateway); `config` as given, else `RouterConfig(**settings)`."""
    if config is None:
        config = RouterConfig(**{"graphiql": False, **settings})
    gateway = build_gateway(supergraph, config) if isinstance(supergraph, str) else supergraph
    return create_app(gateway, config, supergraph=supergraph_file, tracer_provider=tracer_provider)


def start_router(
    supergraph: str | ServedGateway, config: RouterConfig | None = None, **options: Any
) -> RouterServer:
    """`router_app(supergraph, config, **options)`, started."""
    return RouterServer(router_app(supergraph, config, **options)).start()
