"""The router's HTTP edge under a browser's and a slow client's abuse: CSRF prevention (a GET query without a
preflight-forcing header is refused before any subgraph call), CORS (an allowed origin gets the headers, any
other none; a WebSocket from a foreign page is refused), introspection off in production, br and gzip
answers, the client read timeouts (a client trickling its headers is closed) and the ops token on `/metrics`
and the detailed readiness. Routers run as `myshop router` runs them (router.server.uvicorn_config), over a
recording stand-in subgraph."""

from __future__ import annotations

import asyncio
import gzip
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import brotli
import httpx
import orjson
import pytest
import uvicorn
import websockets

from router.config import RouterConfig
from router.server import build_gateway, create_app, uvicorn_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "router"))
from standin import StandIn, supergraph

from shared.testing import ServerThread

JSON = "application/json"
ALLOWED = "https://shop.example.com"
PATTERNED = "https://preview-42.shop.example.com"
FOREIGN = "https://evil.example"
OPS_TOKEN = "ops-secret-for-tests"
BIG = "x" * 20_000  # an answer well past the 1 KiB compression threshold
SLOW_SECONDS = (
    3.0  # the stand-in's answer to a query naming `slow`: longer than the impatient router's timeouts
)


class RouterThread:
    """A router served as `myshop router` serves one (router.server.uvicorn_config: the timed httptools
    protocol, uvloop), on a free loopback port, in a thread."""

    def __init__(self, sdl: str, **settings: Any) -> None:
        config = RouterConfig(**{"graphiql": False, **settings})
        self.app = create_app(build_gateway(sdl, config), config)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(uvicorn_config(self.app, config, timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the router did not start")
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture(scope="module")
def subgraph() -> Iterator[tuple[StandIn, str]]:
    standin = StandIn({"alpha": "a", "big": BIG, "slow": "s"}, slow={"slow": SLOW_SECONDS})
    server = ServerThread(standin).start()
    yield standin, supergraph([("alpha", server, "type Query { alpha: String big: String slow: String }")])
    server.stop()


@pytest.fixture(scope="module")
def start() -> Iterator[Callable[..., RouterThread]]:
    started: list[RouterThread] = []

    def run(sdl: str, **settings: Any) -> RouterThread:
        router = RouterThread(sdl, **settings)
        started.append(router)
        return router

    yield run
    for router in started:
        router.stop()


@pytest.fixture(scope="module")
def router(subgraph: tuple[StandIn, str], start: Callable[..., RouterThread]) -> RouterThread:
    """Defaults (CSRF on, development: introspection on) plus two CORS origins and the ops token."""
    return start(
        subgraph[1],
        cors={"origins": [ALLOWED], "match_origins": [r"https://preview-\d+\.shop\.example\.com"]},
        ops={"token": OPS_TOKEN},
    )


def get_query(router: RouterThread, query: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{router.url}/graphql", params={"query": query}, headers={"accept": JSON, **headers})


def post_query(router: RouterThread, query: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{router.url}/graphql", json={"query": query}, headers={"accept": JSON, **headers})


def code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


# --- CSRF ---------------------------------------------------------------------------------------------------


def test_a_get_query_without_a_preflight_header_is_refused_before_any_subgraph(
    router: RouterThread, subgraph: tuple[StandIn, str]
) -> None:
    standin = subgraph[0]
    before = len(standin.received)
    response = get_query(router, "{ alpha }")
    assert response.status_code == 400
    assert code(response) == "CSRF_ERROR"
    assert len(standin.received) == before


def test_the_same_get_query_with_apollo_require_preflight_runs(
    router: RouterThread, subgraph: tuple[StandIn, str]
) -> None:
    before = len(subgraph[0].received)
    response = get_query(router, "{ alpha }", **{"apollo-require-preflight": "true"})
    assert response.json() == {"data": {"alpha": "a"}}
    assert len(subgraph[0].received) == before + 1


def test_a_get_query_naming_its_operation_in_x_apollo_operation_name_runs(router: RouterThread) -> None:
    response = get_query(router, "query A { alpha }", **{"x-apollo-operation-name": "A"})
    assert response.json() == {"data": {"alpha": "a"}}


def test_a_get_query_with_a_json_content_type_runs(router: RouterThread) -> None:
    # A browser preflights a cross-site request with Content-Type: application/json.
    response = get_query(router, "{ alpha }", **{"content-type": JSON})
    assert response.json() == {"data": {"alpha": "a"}}


def test_an_sse_request_without_a_preflight_header_is_refused(
    router: RouterThread, subgraph: tuple[StandIn, str]
) -> None:
    before = len(subgraph[0].received)
    response = httpx.get(
        f"{router.url}/graphql", params={"query": "{ alpha }"}, headers={"accept": "text/event-stream"}
    )
    assert "CSRF_ERROR" in response.text
    assert len(subgraph[0].received) == before


def test_csrf_prevention_turned_off_lets_a_simple_get_run(
    subgraph: tuple[StandIn, str], start: Callable[..., RouterThread]
) -> None:
    router = start(subgraph[1], csrf={"enabled": False})
    assert get_query(router, "{ alpha }").json() == {"data": {"alpha": "a"}}


# --- CORS ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [ALLOWED, PATTERNED])
def test_an_allowed_origin_gets_cors_headers(router: RouterThread, origin: str) -> None:
    response = post_query(router, "{ alpha }", origin=origin)
    assert response.json() == {"data": {"alpha": "a"}}
    assert response.headers["access-control-allow-origin"] == origin
    assert "origin" in response.headers["vary"].lower()
    assert "x-request-id" in response.headers["access-control-expose-headers"]


@pytest.mark.parametrize("origin", [FOREIGN, "https://shop.example.com.evil.example", "null"])
def test_a_disallowed_origin_gets_no_cors_headers(router: RouterThread, origin: str) -> None:
    response = post_query(router, "{ alpha }", origin=origin)
    assert not [name for name in response.headers if name.startswith("access-control-")]
    assert "origin" in response.headers["vary"].lower()


def test_a_preflight_from_an_allowed_origin_is_answered_and_cacheable(router: RouterThread) -> None:
    response = httpx.options(
        f"{router.url}/graphql",
        headers={
            "origin": ALLOWED,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, apollo-require-preflight",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type, apollo-require-preflight"
    assert int(response.headers["access-control-max-age"]) > 0


def test_a_preflight_from_a_disallowed_origin_gets_no_cors_headers(router: RouterThread) -> None:
    response = httpx.options(
        f"{router.url}/graphql", headers={"origin": FOREIGN, "access-control-request-method": "POST"}
    )
    assert not [name for name in response.headers if name.startswith("access-control-")]


async def test_a_websocket_from_a_foreign_page_is_refused_and_from_an_allowed_one_opens(
    router: RouterThread,
) -> None:
    url = f"ws://127.0.0.1:{router.port}/graphql"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"], origin=FOREIGN):  # type: ignore[list-item,arg-type]
            pass
    assert refused.value.response.status_code == 403
    for origin in (ALLOWED, f"http://127.0.0.1:{router.port}"):  # allowed by CORS; the router's own page
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"], origin=origin) as ws:  # type: ignore[list-item,arg-type]
            await ws.send(orjson.dumps({"type": "connection_init"}).decode())
            assert orjson.loads(await ws.recv())["type"] == "connection_ack"


# --- introspection ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def production(subgraph: tuple[StandIn, str], start: Callable[..., RouterThread]) -> RouterThread:
    return start(subgraph[1], environment="production")


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Query") { name } }',
        "{ ...F } fragment F on Query { __schema { types { name } } }",
        "{ alpha __schema { queryType { name } } }",
    ],
)
def test_introspection_is_refused_in_production(
    production: RouterThread, subgraph: tuple[StandIn, str], query: str
) -> None:
    before = len(subgraph[0].received)
    response = post_query(production, query)
    assert code(response) == "INTROSPECTION_DISABLED"
    assert len(subgraph[0].received) == before


def test_typename_stays_allowed_in_production(production: RouterThread) -> None:
    assert post_query(production, "{ __typename alpha }").json() == {
        "data": {"__typename": "Query", "alpha": "a"}
    }


def test_introspection_answers_outside_production_and_when_turned_on(
    router: RouterThread, subgraph: tuple[StandIn, str], start: Callable[..., RouterThread]
) -> None:
    query = "{ __schema { queryType { name } } }"
    assert post_query(router, query).json()["data"]["__schema"]["queryType"]["name"] == "Query"
    on = start(subgraph[1], environment="production", introspection={"enabled": True})
    assert post_query(on, query).json()["data"]["__schema"]["queryType"]["name"] == "Query"


# --- compression ------------------------------------------------------------------------------------------


def test_a_large_answer_is_gzipped_for_a_client_that_accepts_it(router: RouterThread) -> None:
    with httpx.stream(
        "POST",
        f"{router.url}/graphql",
        json={"query": "{ big }"},
        headers={"accept": JSON, "accept-encoding": "gzip"},
    ) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert int(response.headers["content-length"]) == len(raw) < len(BIG) // 10
    assert orjson.loads(gzip.decompress(raw)) == {"data": {"big": BIG}}


def test_a_large_answer_is_brotli_encoded_for_a_client_that_prefers_br(router: RouterThread) -> None:
    with httpx.stream(
        "POST",
        f"{router.url}/graphql",
        json={"query": "{ big }"},
        headers={"accept": JSON, "accept-encoding": "gzip, deflate, br"},
    ) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "br"
    assert orjson.loads(brotli.decompress(raw)) == {"data": {"big": BIG}}


@pytest.mark.parametrize(
    ("query", "accept_encoding"),
    [("{ big }", "identity"), ("{ big }", "gzip;q=0, deflate"), ("{ alpha }", "gzip, br")],
)
def test_an_answer_goes_uncompressed_when_small_or_gzip_is_not_accepted(
    router: RouterThread, query: str, accept_encoding: str
) -> None:
    with httpx.stream(
        "POST",
        f"{router.url}/graphql",
        json={"query": query},
        headers={"accept": JSON, "accept-encoding": accept_encoding},
    ) as response:
        raw = b"".join(response.iter_raw())
    assert "content-encoding" not in response.headers
    assert orjson.loads(raw)["data"]


# --- slow clients -----------------------------------------------------------------------------------------


def _closed_after(sock: socket.socket, payload: bytes, every: float, within: float) -> float | None:
    """Sends `payload` a byte every `every` seconds; the seconds until the server closed the connection, or
    None if it was still open after `within`."""
    started = time.monotonic()
    sock.settimeout(every)
    for byte in payload:
        try:
            sock.sendall(bytes([byte]))
            if sock.recv(65536) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started
        if time.monotonic() - started > within:
            return None
    return None


TRICKLE = b"GET /graphql?query=%7Balpha%7D HTTP/1.1\r\nhost: x\r\n" + b"x-padding: " + b"a" * 200


@pytest.fixture(scope="module")
def impatient(subgraph: tuple[StandIn, str], start: Callable[..., RouterThread]) -> RouterThread:
    return start(subgraph[1], client_timeouts={"header_read_seconds": 2, "body_read_seconds": 2})


def test_a_client_sending_one_header_byte_per_second_is_closed_within_the_timeout(
    impatient: RouterThread,
) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port)) as sock:
        closed = _closed_after(sock, TRICKLE, every=1.0, within=6)
    assert closed is not None and 1.5 < closed < 3.5


def test_a_kept_alive_connection_trickling_its_next_request_is_closed(impatient: RouterThread) -> None:
    request = (
        b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 19\r\n\r\n"
        b'{"query":"{alpha}"}'
    )
    with socket.create_connection(("127.0.0.1", impatient.port)) as sock:
        sock.sendall(request)
        answer = b""
        while b'"alpha":"a"' not in answer:
            answer += sock.recv(65536)
        closed = _closed_after(sock, TRICKLE, every=0.5, within=6)
    assert closed is not None and closed < 3.5


def test_a_client_trickling_its_body_is_closed(impatient: RouterThread) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", impatient.port)) as sock:
        sock.sendall(head)
        closed = _closed_after(sock, b" " * 400, every=0.5, within=6)
    assert closed is not None and closed < 3.5


def test_a_request_pipelined_behind_a_slow_one_is_not_timed_out_while_it_waits(
    impatient: RouterThread,
) -> None:
    # A request read in full is no longer timed, however long its answer (or the one before it) takes.
    first = b'{"query":"{slow}"}'
    second = b'{"query":"{alpha}"}'
    head = (
        b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", impatient.port)) as sock:
        sock.sendall(head % len(first) + first + head % len(second))
        time.sleep(0.3)
        sock.sendall(second)
        sock.settimeout(SLOW_SECONDS + 3)
        answers = b""
        while b'"alpha":"a"' not in answers:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {answers!r}"
            answers += chunk
    assert b'"slow":"s"' in answers


def test_a_client_that_connects_and_sends_nothing_is_closed(impatient: RouterThread) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port)) as sock:
        sock.settimeout(5)
        started = time.monotonic()
        assert sock.recv(1) == b""
    assert time.monotonic() - started < 3.5


# --- ops endpoints ----------------------------------------------------------------------------------------


def test_metrics_need_the_ops_token(router: RouterThread) -> None:
    assert httpx.get(f"{router.url}/metrics").status_code == 401
    wrong = httpx.get(f"{router.url}/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = httpx.get(f"{router.url}/metrics", headers={"authorization": f"Bearer {OPS_TOKEN}"})
    assert ok.status_code == 200 and "myshop_router" in ok.text


def test_readiness_details_need_the_ops_token_and_health_stays_public(router: RouterThread) -> None:
    public = httpx.get(f"{router.url}/health/ready")
    assert public.status_code == 200 and public.json() == {"status": "ok"}
    detailed = httpx.get(f"{router.url}/health/ready", headers={"authorization": f"Bearer {OPS_TOKEN}"})
    assert detailed.json()["subgraphs"]["alpha"]["url"].endswith("/graphql")
    assert httpx.get(f"{router.url}/health").json() == {"status": "ok"}


async def test_a_flood_of_public_readiness_checks_probes_the_subgraphs_once(
    router: RouterThread, subgraph: tuple[StandIn, str]
) -> None:
    def probes() -> int:
        return sum(1 for r in subgraph[0].received if r.body.get("query") == "{ __typename }")

    before = probes()
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        answers = await asyncio.gather(*(client.get("/health/ready") for _ in range(30)))
    assert all(answer.json() == {"status": "ok"} for answer in answers)
    assert probes() - before <= 1
