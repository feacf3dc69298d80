"""Supergraph hot reload: the router polls its supergraph file and swaps in a new schema without failing a
request; requests in flight finish on the old gateway, which closes after them; a bad file is refused and the
old schema keeps serving. Over a stand-in subgraph, whose supergraph versions differ by a field (`fresh`)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from edge_headers import OPS
from eventually import eventually
from standin import StandIn, supergraph

from router.config import RouterConfig
from router.http.app import RouterApp
from router.server import build_gateway, create_app
from shared.testing import ServerThread

OLD_SDL = "type Query { alpha: String slow: String }"
NEW_SDL = "type Query { alpha: String slow: String fresh: String }"
SLOW_SECONDS = 1.5


@pytest.fixture(scope="module")
def versions() -> Iterator[dict[str, str]]:
    server = ServerThread(
        StandIn({"alpha": "a", "slow": "s", "fresh": "new"}, slow={"slow": SLOW_SECONDS})
    ).start()
    yield {
        "old": supergraph([("alpha", server, OLD_SDL)]),
        "new": supergraph([("alpha", server, NEW_SDL)]),
        "renamed": supergraph([("renamed", server, NEW_SDL)]),
    }
    server.stop()


@dataclass
class Router:
    server: ServerThread
    app: RouterApp
    path: Path

    @property
    def url(self) -> str:
        return f"{self.server.url}/graphql"


@pytest.fixture
def router(versions: dict[str, str], tmp_path: Path) -> Iterator[Router]:
    path = tmp_path / "supergraph.graphql"
    path.write_text(versions["old"])
    config = RouterConfig(graphiql=False, hot_reload_interval_seconds=0.1)
    app = create_app(build_gateway(path.read_text(), config), config, supergraph=path)
    server = ServerThread(app).start()
    yield Router(server, app, path)
    server.stop()


async def ask(client: httpx.AsyncClient, router: Router, query: str) -> httpx.Response:
    return await client.post(router.url, json={"query": query})


async def until_answers(client: httpx.AsyncClient, router: Router, query: str, within: float = 5.0) -> float:
    """Seconds until `query` answers without errors (fails the test after `within` seconds)."""
    started = time.monotonic()
    await eventually(
        lambda: ask(client, router, query),
        lambda answer: "errors" not in answer.json(),
        within=within,
        what=query,
    )
    return time.monotonic() - started


async def reloads(client: httpx.AsyncClient, router: Router, result: str) -> float:
    text = (await client.get(f"{router.server.url}/metrics", headers=OPS)).text
    for line in text.splitlines():
        if line.startswith(f'myshop_router_supergraph_reloads_total{{result="{result}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_new_supergraph_is_swapped_in_under_load_without_failing_a_request(
    router: Router, versions: dict[str, str]
) -> None:
    stop = asyncio.Event()
    answers: list[tuple[int, Any]] = []

    async def load(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            response = await ask(client, router, "{ alpha }")
            answers.append((response.status_code, response.json()))

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=20)) as client:
        assert "errors" in (await ask(client, router, "{ fresh }")).json()
        workers = [asyncio.create_task(load(client)) for _ in range(20)]
        # Counted, not timed: 100 answers before the swap and 100 more on the new gateway, however fast
        # the machine is.
        await eventually(lambda: len(answers) >= 100, within=30)
        router.path.write_text(versions["new"])
        await until_answers(client, router, "{ fresh }")
        swapped = len(answers)
        await eventually(lambda: len(answers) >= swapped + 100, within=30)
        stop.set()
        await asyncio.gather(*workers)
        fresh = (await ask(client, router, "{ fresh }")).json()
        successes = await reloads(client, router, "success")

    assert len(answers) >= 200
    assert [answer for answer in answers if answer != (200, {"data": {"alpha": "a"}})] == []
    assert fresh == {"data": {"fresh": "new"}}
    assert successes == 1


async def test_a_request_in_flight_finishes_on_the_old_gateway_which_closes_after_it(
    router: Router, versions: dict[str, str]
) -> None:
    old = router.app.gateway
    closed_at: list[float] = []
    close = old.close

    async def recording_close() -> None:
        closed_at.append(time.monotonic())
        await close()

    old.close = recording_close
    async with httpx.AsyncClient(timeout=30) as client:
        slow_started = time.monotonic()
        slow = asyncio.create_task(ask(client, router, "{ slow }"))
        await asyncio.sleep(0.3)
        router.path.write_text(versions["new"])
        await until_answers(client, router, "{ fresh }", within=SLOW_SECONDS - 0.5)
        swapped_before_the_slow_one_ended = not slow.done()
        closed_during_the_slow_one = bool(closed_at)
        response = await slow
        await asyncio.sleep(0.2)

    assert swapped_before_the_slow_one_ended
    assert response.json() == {"data": {"slow": "s"}}
    assert not closed_during_the_slow_one
    assert len(closed_at) == 1 and closed_at[0] >= slow_started + SLOW_SECONDS
    assert router.app.gateway is not old


@pytest.mark.parametrize(
    "content",
    ["not graphql {{", "type Query { other: Int }", ""],
    ids=["unparseable", "not a supergraph", "empty"],
)
async def test_a_bad_supergraph_is_refused_and_the_old_one_keeps_serving(
    router: Router, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    serving = router.app.gateway
    async with httpx.AsyncClient(timeout=30) as client:
        router.path.write_text(content)
        await eventually(lambda: reloads(client, router, "failure"), lambda n: n >= 1, within=5)
        failures = await reloads(client, router, "failure")
        answer = (await ask(client, router, "{ alpha slow }")).json()

    assert failures == 1
    assert answer == {"data": {"alpha": "a", "slow": "s"}}
    assert router.app.gateway is serving
    assert "supergraph reload refused" in caplog.text


async def test_a_file_touched_but_unchanged_is_not_reloaded(router: Router) -> None:
    serving = router.app.gateway
    os.utime(router.path, None)

    await asyncio.sleep(0.5)

    assert router.app.gateway is serving


def test_hot_reload_can_be_turned_off(versions: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "supergraph.graphql"
    path.write_text(versions["old"])
    config = RouterConfig(graphiql=False, hot_reload=False)

    app = create_app(build_gateway(path.read_text(), config), config, supergraph=path)

    assert app.reloader is None


async def test_the_gateways_metrics_follow_the_new_gateway_after_a_reload(
    router: Router, versions: dict[str, str]
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        router.path.write_text(versions["renamed"])
        await until_answers(client, router, "{ fresh }")
        metrics = await client.get(f"{router.server.url}/metrics", headers=OPS)

    breaker_lines = [
        line for line in metrics.text.splitlines() if line.startswith("myshop_router_subgraph_breaker_state")
    ]
    assert metrics.status_code == 200
    assert len(breaker_lines) == 1
    assert 'subgraph="renamed"' in breaker_lines[0]
