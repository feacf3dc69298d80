"""The router's own HTTP/1.1 client to plain-HTTP subgraphs (router/upstream/http1.py) against a raw asyncio
server that answers as told: keep-alive reuse, chunked and close-delimited answers, `Connection: close`, a
server closing an idle connection, timeouts, refusals, the connection limit, and the transport choosing it
for http:// only (HTTPS and uploads stay on aiohttp)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from router.upstream.http1 import ExchangeError, ExchangeTimeout, Http1Pool
from router.upstream.transport import (
    SubgraphFetchError,
    SubgraphHTTPError,
    SubgraphTimeoutError,
    SubgraphTransport,
)

OK = b'{"data":{"ok":true}}'


def answer(body: bytes = OK, *, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n" % len(body) + extra + b"\r\n" + body
    )


class RawServer:
    """Reads each request (headers + Content-Length body) and writes what `reply(request)` gives (None:
    no answer at all); `close_after` closes the connection after that many answers on it."""

    def __init__(self, reply: Callable[[bytes], bytes | None], close_after: int | None = None) -> None:
        self.reply = reply
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.open = 0
        self.most_open = 0
        self.server: asyncio.AbstractServer | None = None
        self.delay = 0.0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        answered = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if self.delay:
                    await asyncio.sleep(self.delay)
                reply = self.reply(request)
                if reply is None:
                    await asyncio.sleep(3600)
                    return
                writer.write(reply)
                await writer.drain()
                answered += 1
                if self.close_after is not None and answered >= self.close_after:
                    return
        finally:
            self.open -= 1
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/graphql"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture
async def pools() -> AsyncIterator[list[Http1Pool]]:
    made: list[Http1Pool] = []
    yield made
    for pool in made:
        pool.close()


def pool_for(url: str, pools: list[Http1Pool], limit: int = 8, keepalive: float = 30.0) -> Http1Pool:
    pool = Http1Pool(url, limit=limit, keepalive=keepalive)
    pools.append(pool)
    return pool


async def test_sequential_requests_share_one_keep_alive_connection(pools: list[Http1Pool]) -> None:
    server = RawServer(lambda request: answer())
    async with server as url:
        pool = pool_for(url, pools)
        for _ in range(5):
            response = await pool.post(b'{"query":"{ok}"}', {"authorization": "Bearer t"}, 5)
            assert (response.status, response.body) == (200, OK)
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /graphql HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:" in first
    assert b"\r\nauthorization: Bearer t\r\n" in first
    assert first.endswith(b'\r\ncontent-length: 16\r\n\r\n{"query":"{ok}"}')


async def test_a_chunked_answer_is_read_whole(pools: list[Http1Pool]) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncache-control: max-age=60\r\n\r\n"
        b"5\r\n" + OK[:5] + b"\r\n" + b"%x\r\n" % (len(OK) - 5) + OK[5:] + b"\r\n0\r\n\r\n"
    )
    server = RawServer(lambda request: chunked)
    async with server as url:
        pool = pool_for(url, pools)
        response = await pool.post(b"{}", {}, 5)
        assert response.body == OK
        assert response.header(b"cache-control") == "max-age=60"
        assert (await pool.post(b"{}", {}, 5)).body == OK
    assert server.connections == 1


async def test_connection_close_and_an_answer_ending_with_the_connection(pools: list[Http1Pool]) -> None:
    until_close = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + OK
    server = RawServer(lambda request: until_close, close_after=1)
    async with server as url:
        pool = pool_for(url, pools)
        for _ in range(3):
            assert (await pool.post(b"{}", {}, 5)).body == OK
    assert server.connections == 3


async def test_an_idle_connection_the_server_closed_is_not_reused(pools: list[Http1Pool]) -> None:
    server = RawServer(lambda request: answer(), close_after=1)  # keep-alive said, then closed anyway
    async with server as url:
        pool = pool_for(url, pools)
        assert (await pool.post(b"{}", {}, 5)).body == OK
        await asyncio.sleep(0.1)  # the close reaches the client
        assert (await pool.post(b"{}", {}, 5)).body == OK
    assert server.connections == 2


async def test_a_connection_idle_past_the_keep_alive_is_replaced(pools: list[Http1Pool]) -> None:
    server = RawServer(lambda request: answer())
    async with server as url:
        pool = pool_for(url, pools, keepalive=0.05)
        await pool.post(b"{}", {}, 5)
        await asyncio.sleep(0.1)
        await pool.post(b"{}", {}, 5)
    assert server.connections == 2


async def test_no_answer_within_the_timeout_fails_and_drops_the_connection(pools: list[Http1Pool]) -> None:
    server = RawServer(lambda request: None)
    async with server as url:
        pool = pool_for(url, pools)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ExchangeTimeout):
            await pool.post(b"{}", {}, 0.2)
        assert 0.15 < loop.time() - started < 2
        assert pool._open == 0


async def test_a_refused_connection_is_an_exchange_error(pools: list[Http1Pool]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pool = pool_for(f"http://127.0.0.1:{port}/graphql", pools)
    with pytest.raises(ExchangeError):
        await pool.post(b"{}", {}, 5)
    assert pool._open == 0


async def test_a_header_with_a_line_break_is_refused(pools: list[Http1Pool]) -> None:
    server = RawServer(lambda request: answer())
    async with server as url:
        pool = pool_for(url, pools)
        with pytest.raises(ExchangeError):
            await pool.post(b"{}", {"x-evil": "a\r\nx-injected: 1"}, 5)
    assert server.requests == []


async def test_at_most_limit_connections_are_open(pools: list[Http1Pool]) -> None:
    server = RawServer(lambda request: answer())
    server.delay = 0.02
    async with server as url:
        pool = pool_for(url, pools, limit=2)
        responses = await asyncio.gather(*(pool.post(b"{}", {}, 5) for _ in range(10)))
    assert [response.body for response in responses] == [OK] * 10
    assert server.most_open <= 2


async def test_the_transport_uses_it_for_plain_http_and_maps_its_failures() -> None:
    transport = SubgraphTransport({"a": "http://127.0.0.1:1/graphql", "b": "https://example.com/graphql"})
    assert transport._plain == frozenset({"a"})
    server = RawServer(lambda request: answer(b"busy", status="503 Service Unavailable"))
    async with server as url:
        transport = SubgraphTransport({"a": url}, timeout=5)
        with pytest.raises(SubgraphHTTPError) as failed:
            await transport.send("a", b"{}", {})
        assert failed.value.status == 503 and failed.value.transient
        await transport.close()
    server = RawServer(lambda request: None)
    async with server as url:
        transport = SubgraphTransport({"a": url}, timeout=0.2)
        with pytest.raises(SubgraphTimeoutError):
            await transport.send("a", b"{}", {})
        await transport.close()
    transport = SubgraphTransport({"a": "http://127.0.0.1:1/graphql"})
    with pytest.raises(SubgraphFetchError):
        await transport.send("a", b"{}", {})
    server = RawServer(lambda request: answer(extra=b"cache-control: max-age=5\r\n"))
    async with server as url:
        transport = SubgraphTransport({"a": url})
        transport.cache_control_graphs = frozenset({"a"})
        got = await transport.send("a", b"{}", {})
        assert got == {"data": {"ok": True}}
        assert got.cache_control == "max-age=5"  # type: ignore[attr-defined]
        await transport.close()


async def test_a_cancelled_fetch_gives_its_connection_back_closed(pools: list[Http1Pool]) -> None:
    server = RawServer(lambda request: None)
    async with server as url:
        pool = pool_for(url, pools, limit=1)
        fetch = asyncio.create_task(pool.post(b"{}", {}, 30))
        waiting = asyncio.create_task(pool.post(b"{}", {}, 30))  # waits for the one connection
        await asyncio.sleep(0.1)
        fetch.cancel()
        waiting.cancel()
        for task in (fetch, waiting):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert pool._open == 0 and pool._idle == []


async def test_the_clients_own_headers_are_not_sent_twice(pools: list[Http1Pool]) -> None:
    server = RawServer(lambda request: answer())
    async with server as url:
        pool = pool_for(url, pools)
        await pool.post(b"{}", {"host": "elsewhere", "content-length": "99"}, 5)
    request = server.requests[0].lower()
    assert request.count(b"\r\nhost:") == 1 and b"elsewhere" not in request
    assert request.count(b"\r\ncontent-length:") == 1
