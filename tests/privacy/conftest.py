"""Fixtures of the privacy tests: the whole stack behind a router over MyShop's supergraph; a small shop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from privacy_shop import Shop

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()


@pytest.fixture(scope="module")
def router(stack: Any) -> Iterator[ServerThread]:
    config = RouterConfig(
        graphiql=False, subgraph_urls={name: f"{s.url}/graphql" for name, s in stack.servers.items()}
    )
    server = ServerThread(create_app(build_gateway(SUPERGRAPH, config), config)).start()
    yield server
    server.stop()


@pytest.fixture
async def client(router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
        yield client


@pytest.fixture
def shop(api: Any, client: httpx.AsyncClient, gql: Any, issuer: Any, engines: dict[str, Any]) -> Shop:
    return Shop(client, gql, issuer, engines)
