"""GraphiQL in a real browser: Debian's Chromium (installed by .ci/run) driven by playwright-core from npm.

The page loads with no failed request and nothing from outside the router, introspects the schema through
the router's /graphql, runs a query and shows its result.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphql
import orjson
import pytest
from browsers import needs_browser
from standin import GatewayStandIn

from router.config import RouterConfig
from router.pipeline.request import GraphQLRequest
from router.server import create_app
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("graphiql_browser.mjs")

pytestmark = needs_browser()

SDL = """
type Query { greeting(name: String!): String!, shop: Shop! }
type Shop { name: String!, currency: String! }
"""


class SchemaGateway(GatewayStandIn):
    """A stand-in gateway answering from a small local schema (introspection included), as GraphiQL needs."""

    def __init__(self) -> None:
        super().__init__()
        self.schema = graphql.build_schema(SDL)
        self.root = {
            "greeting": lambda _info, name: f"hello {name}",
            "shop": {"name": "MyShop", "currency": "EUR"},
        }

    async def answer(self, request: GraphQLRequest) -> dict[str, Any]:
        result = await graphql.graphql(
            self.schema,
            request.query or "",
            root_value=self.root,
            variable_values=request.variables,
            operation_name=request.operation_name,
        )
        return result.formatted


async def graphiql_report(url: str, query: str, expected: str) -> dict[str, Any]:
    """What graphiql_browser.mjs reports of running `query` in the GraphiQL page at `url` in headless
    Chromium until `expected` shows in the result pane, checked ok (its problems otherwise)."""
    completed = await asyncio.to_thread(
        subprocess.run,
        ["node", str(SCRIPT), url, query, expected],
        cwd=REPO,  # the browser driver's own playwright-core
        capture_output=True,
        timeout=120,
    )
    lines = completed.stdout.decode().strip().splitlines()
    assert lines, completed.stderr.decode()[-2000:]
    report: dict[str, Any] = orjson.loads(lines[-1])
    assert report["ok"], report["problems"]
    assert completed.returncode == 0
    return report


@pytest.fixture(scope="module")
def router() -> Iterator[ServerThread]:
    server = ServerThread(create_app(SchemaGateway(), RouterConfig())).start()
    yield server
    server.stop()


async def test_graphiql_runs_a_query_in_headless_chromium(router: ServerThread) -> None:
    query = '{ greeting(name: "admin") shop { name currency } }'
    report = await graphiql_report(f"{router.url}/graphql", query, '"hello admin"')
    assert '"currency": "EUR"' in report["result"]
    # The page, its four assets and the GraphQL requests: all served by the router itself.
    assert any("/graphiql/graphiql.js" in url for url in report["requests"])
    assert all(url.startswith(router.url) or url.startswith("data:") for url in report["requests"])
