"""The router's traffic shaping over real servers on loopback: per-subgraph timeouts, circuit breakers,
retries, deduplication of identical query fetches, the request timeout, and the per-client rate limit
in Redis.

The subgraphs are stand-ins of our own (a tiny ASGI app per subgraph) that count what they are sent and can
be told to be slow or to fail; the router is router/server.py's app as `myshop router` builds it.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from edge_headers import OPS
from standin import read_request, request_headers, respond

from myshop.servers import free_port
from router.config import RouterConfig
from shared.composition import compose
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
HEADER = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n'
SHOP_SDL = HEADER + "type Query { greeting: String }"
REPORTS_SDL = HEADER + "type Query { report: String status: String! }\ntype Mutation { touch: String }"
SHOP_DATA = {"greeting": "hello"}
REPORTS_DATA = {"report": "ready", "status": "green", "touch": "done"}


class StandIn:
    """A subgraph stand-in: answers every request with `data`, after `delay` seconds; the next `failures`
    requests get a 503 without a GraphQL body. Every request's body and headers are kept."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.delay = 0.0
        self.failures = 0
        self.requests: list[tuple[dict[str, Any], dict[str, str]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await read_request(scope, receive, send)
        if body is None:
            return
        self.requests.append((orjson.loads(body), request_headers(scope)))
        if self.failures > 0:
            self.failures -= 1
            await respond(send, b"overloaded", status=503, content_type=b"text/plain")
            return
        if self.delay:
            await asyncio.sleep(self.delay)
        await respond(send, orjson.dumps({"data": self.data}))


@pytest.fixture(scope="module")
def supergraph() -> str:
    return compose(
        [
            ("shop", "http://127.0.0.1:1/graphql", SHOP_SDL),
            ("reports", "http://127.0.0.1:2/graphql", REPORTS_SDL),
        ],
        repo_root=REPO,
    )


class Stand:
    """The two stand-in subgraphs and routers started over them (stopped at the end of the test)."""

    def __init__(self, supergraph: str, start_router: Any) -> None:
        self.supergraph = supergraph
        self.start_router = start_router
        self.shop = StandIn(SHOP_DATA)
        self.reports = StandIn(REPORTS_DATA)
        self.shop_server = ServerThread(self.shop).start()
        self.reports_server: ServerThread | None = ServerThread(self.reports).start()
        self.reports_port = self.reports_server.port
        self.routers: list[ServerThread] = []

    def router(self, **settings: Any) -> ServerThread:
        urls = {
            "shop": f"{self.shop_server.url}/graphql",
            "reports": f"http://127.0.0.1:{self.reports_port}/graphql",
        }
        router: ServerThread = self.start_router(self.supergraph, subgraph_urls=urls, **settings)
        self.routers.append(router)
        return router

    def stop_reports(self) -> None:
        assert self.reports_server is not None
        self.reports_server.stop()
        self.reports_server = None

    def restart_reports(self) -> None:
        self.reports_server = ServerThread(self.reports, port=self.reports_port).start()

    def stop(self) -> None:
        for server in [*self.routers, self.shop_server, self.reports_server]:
            if server is not None:
                server.stop()


@pytest.fixture
def stand(supergraph: str, start_router: Any) -> Iterator[Stand]:
    stand = Stand(supergraph, start_router)
    yield stand
    stand.stop()


def traffic(**reports: Any) -> dict[str, Any]:
    """Traffic settings: the reports subgraph's fields as given; no retries unless asked."""
    return {"all": {"retries": 0}, "subgraphs": {"reports": reports}}


async def ask(client: httpx.AsyncClient, query: str, **headers: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    return response, time.perf_counter() - started


def codes(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["extensions"]["code"], e["extensions"].get("service")) for e in body.get("errors", ())]


# --- per-subgraph timeouts ------------------------------------------------------------------------------


async def test_a_subgraph_past_its_timeout_costs_only_its_fields(stand: Stand) -> None:
    stand.reports.delay = 2.0
    router = stand.router(traffic=traffic(timeout="300ms"))
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        response, took = await ask(client, "{ greeting report }")
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"greeting": "hello", "report": None}
    assert codes(body) == [("SUBREQUEST_TIMEOUT", "reports")]
    assert 0.3 <= took < 1.5


async def test_the_all_timeout_applies_where_no_subgraph_overrides_it(stand: Stand) -> None:
    stand.shop.delay = 2.0
    router = stand.router(traffic={"all": {"timeout": "300ms", "retries": 0}, "subgraphs": {"reports": {}}})
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        response, took = await ask(client, "{ greeting report }")
    assert response.json()["data"] == {"greeting": None, "report": "ready"}
    assert codes(response.json()) == [("SUBREQUEST_TIMEOUT", "shop")]
    assert took < 1.5


# --- circuit breakers -----------------------------------------------------------------------------------


async def test_a_killed_subgraph_opens_its_breaker_and_closes_it_after_the_cooldown_once_back(
    stand: Stand,
) -> None:
    router = stand.router(traffic=traffic(breaker={"failures": 2, "cooldown": "1s"}))
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        assert (await ask(client, "{ greeting report }"))[0].json()["data"] == {
            **SHOP_DATA,
            "report": "ready",
        }
        stand.stop_reports()
        for _ in range(2):  # refused twice: the breaker opens
            response, _ = await ask(client, "{ greeting report }")
            assert codes(response.json()) == [("SUBREQUEST_HTTP_ERROR", "reports")]

        # Open: what needs reports fails at once with partial data; what does not answers in full.
        response, _ = await ask(client, "{ greeting report }")
        assert response.json()["data"] == {"greeting": "hello", "report": None}
        assert codes(response.json()) == [("SUBGRAPH_UNAVAILABLE", "reports")]
        response, _ = await ask(client, "{ greeting }")
        assert response.json() == {"data": {"greeting": "hello"}}

        # Back, but the cooldown has not passed: still open, nothing sent.
        stand.restart_reports()
        sent = len(stand.reports.requests)
        response, _ = await ask(client, "{ report }")
        assert codes(response.json()) == [("SUBGRAPH_UNAVAILABLE", "reports")]
        assert len(stand.reports.requests) == sent

        # After the cooldown the probe goes through and closes the breaker: answers are whole again.
        await asyncio.sleep(1.1)
        for _ in range(3):
            response, _ = await ask(client, "{ greeting report }")
            assert response.json() == {"data": {"greeting": "hello", "report": "ready"}}
        metrics = (await client.get("/metrics", headers=OPS)).text
    assert 'myshop_router_subgraph_breaker_state{service="router",subgraph="reports"} 0.0' in metrics
    for state, count in (("open", 1), ("half_open", 1), ("closed", 1)):
        labels = f'service="router",state="{state}",subgraph="reports"'
        assert f"myshop_router_subgraph_breaker_transitions_total{{{labels}}} {count}.0" in metrics
    assert 'myshop_router_subgraph_short_circuited_total{service="router",subgraph="reports"} 2.0' in metrics


async def test_an_open_breaker_fails_fetches_well_under_the_timeout(stand: Stand) -> None:
    stand.reports.delay = 5.0
    router = stand.router(traffic=traffic(timeout="500ms", breaker={"failures": 2, "cooldown": "30s"}))
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        for _ in range(2):
            response, took = await ask(client, "{ greeting report }")
            assert codes(response.json()) == [("SUBREQUEST_TIMEOUT", "reports")]
            assert took >= 0.5
        response, took = await ask(client, "{ greeting report }")
    assert response.json()["data"] == {"greeting": "hello", "report": None}
    assert codes(response.json()) == [("SUBGRAPH_UNAVAILABLE", "reports")]
    assert took < 0.1
    assert len(stand.reports.requests) == 2


async def test_a_failed_probe_opens_the_breaker_again(stand: Stand) -> None:
    router = stand.router(traffic=traffic(breaker={"failures": 1, "cooldown": "300ms"}))
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        stand.reports.failures = 2
        assert codes((await ask(client, "{ report }"))[0].json()) == [("SUBREQUEST_HTTP_ERROR", "reports")]
        await asyncio.sleep(0.4)
        # The probe meets the second failure: open again, the next fetch is not sent.
        assert codes((await ask(client, "{ report }"))[0].json()) == [("SUBREQUEST_HTTP_ERROR", "reports")]
        assert codes((await ask(client, "{ report }"))[0].json()) == [("SUBGRAPH_UNAVAILABLE", "reports")]
        assert len(stand.reports.requests) == 2
        await asyncio.sleep(0.4)
        assert (await ask(client, "{ report }"))[0].json() == {"data": {"report": "ready"}}


# --- retries --------------------------------------------------------------------------------------------


async def test_a_query_fetch_is_retried_once_after_a_transient_failure(stand: Stand) -> None:
    stand.reports.failures = 1
    router = stand.router(traffic=traffic(retries=1, retry_backoff="10ms"))
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        response, _ = await ask(client, "{ report }")
    assert response.json() == {"data": {"report": "ready"}}
    assert len(stand.reports.requests) == 2
    assert stand.reports.requests[0][0] == stand.reports.requests[1][0]


async def test_a_query_fetch_gives_up_after_its_retries(stand: Stand) -> None:
    stand.reports.failures = 5
    router = stand.router(traffic=traffic(retries=2, retry_backoff="10ms"))
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        response, _ = await ask(client, "{ report }")
    assert codes(response.json()) == [("SUBREQUEST_HTTP_ERROR", "reports")]
    assert len(stand.reports.requests) == 3


async def test_a_mutation_fetch_is_never_retried(stand: Stand) -> None:
    stand.reports.failures = 1
    router = stand.router(traffic=traffic(retries=2, retry_backoff="10ms"))
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        response, _ = await ask(client, "mutation { touch }")
    assert response.json()["data"] == {"touch": None}
    assert codes(response.json()) == [("SUBREQUEST_HTTP_ERROR", "reports")]
    assert len(stand.reports.requests) == 1


# --- deduplication --------------------------------------------------------------------------------------


async def test_identical_concurrent_queries_share_one_subgraph_fetch(stand: Stand) -> None:
    stand.reports.delay = 0.3
    router = stand.router()
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        answers = await asyncio.gather(
            *(ask(client, "{ report }", authorization="Bearer same") for _ in range(10))
        )
        metrics = (await client.get("/metrics", headers=OPS)).text
    assert [response.json() for response, _ in answers] == [{"data": {"report": "ready"}}] * 10
    assert len(stand.reports.requests) == 1
    assert 'myshop_router_subgraph_deduplicated_total{service="router",subgraph="reports"} 9.0' in metrics


async def test_queries_with_different_authorization_are_never_shared(stand: Stand) -> None:
    stand.reports.delay = 0.3
    router = stand.router()
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        await asyncio.gather(
            *(ask(client, "{ report }", authorization=f"Bearer {who}") for who in ("ann", "bob", "ann"))
        )
    assert sorted(headers["authorization"] for _, headers in stand.reports.requests) == [
        "Bearer ann",
        "Bearer bob",
    ]


async def test_concurrent_identical_mutations_each_reach_the_subgraph(stand: Stand) -> None:
    stand.reports.delay = 0.3
    router = stand.router()
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        await asyncio.gather(*(ask(client, "mutation { touch }") for _ in range(3)))
    assert len(stand.reports.requests) == 3


# --- the request timeout --------------------------------------------------------------------------------


async def test_a_request_past_its_time_answers_with_what_it_has_and_gateway_timeout(stand: Stand) -> None:
    stand.reports.delay = 3.0
    router = stand.router(traffic={**traffic(timeout="10s"), "request_timeout": "500ms"})
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        response, took = await ask(client, "{ greeting report }")
    assert response.status_code == 200
    assert response.json()["data"] == {"greeting": "hello", "report": None}
    assert codes(response.json()) == [("GATEWAY_TIMEOUT", None)]
    assert 0.5 <= took < 1.5


async def test_a_request_past_its_time_with_no_data_answers_504(stand: Stand) -> None:
    stand.reports.delay = 3.0
    router = stand.router(traffic={**traffic(timeout="10s"), "request_timeout": "500ms"})
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        response, took = await ask(client, "{ status }")
    assert response.status_code == 504
    assert response.json()["data"] is None
    assert codes(response.json()) == [("GATEWAY_TIMEOUT", None)]
    assert took < 1.5


# --- the rate limit -------------------------------------------------------------------------------------


def rate_limit(requests: int) -> dict[str, Any]:
    prefix = f"{os.environ['MYSHOP_REDIS_PREFIX']}router-{uuid.uuid4().hex[:8]}:"
    return {
        "enabled": True,
        "requests": requests,
        "window_seconds": 60,
        "redis_url": os.environ["MYSHOP_REDIS_URL"],
        "key_prefix": prefix,
    }


async def test_the_rate_limit_holds_across_two_routers_on_one_redis(stand: Stand) -> None:
    limit = rate_limit(3)
    first, second = stand.router(rate_limit=limit), stand.router(rate_limit=limit)
    async with (
        httpx.AsyncClient(base_url=first.url, timeout=10) as one,
        httpx.AsyncClient(base_url=second.url, timeout=10) as two,
    ):
        assert [(await ask(c, "{ greeting }"))[0].status_code for c in (one, two, one)] == [200, 200, 200]
        response, _ = await ask(two, "{ greeting }")
    assert response.status_code == 429
    assert codes(response.json()) == [("RATE_LIMITED", None)]
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= 60
    assert response.json()["errors"][0]["extensions"]["retryAfter"] == retry_after
    assert len(stand.shop.requests) == 3


async def test_the_rate_limit_passes_requests_when_redis_is_down(stand: Stand) -> None:
    router = stand.router(rate_limit={**rate_limit(1), "redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        statuses = [(await ask(client, "{ greeting }"))[0].status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


async def test_the_rate_limit_is_off_by_default(stand: Stand) -> None:
    router = stand.router()
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        statuses = [(await ask(client, "{ greeting }"))[0].status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert RouterConfig().rate_limit.enabled is False
