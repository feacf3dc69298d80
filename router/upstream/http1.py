"""The router's own HTTP/1.1 client for plain-HTTP subgraphs: a keep-alive pool of asyncio protocols per
subgraph, requests written as one buffer, responses parsed by httptools (uvicorn's C parser, already a
dependency of the router's server), the whole exchange bounded by one timer.

Why not aiohttp for these (a library path replaced for speed): on the gateways benchmark's nested query
(bench/gateways/inprocess.py, cProfile in CPU time) aiohttp's exchange (ClientRequest, ClientResponse,
payload, multidicts, tracing hooks) was 24% of the router's CPU (6.2 s of 25.8 s); this client's exchange is
10% (1.9 s of 17.8 s), and the in-process µs per request fell ~12% from it alone. It speaks only what the
subgraphs of a router need: POST of a byte body, Content-Length, chunked or close-delimited answers,
keep-alive, no compression asked for (loopback or an in-cluster hop), no proxy. HTTPS subgraphs and streamed
upload bodies stay on aiohttp (router/upstream/transport.py chooses).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httptools


class ExchangeError(Exception):
    """The exchange failed: the connection could not be made, broke, or the answer was not HTTP."""


class ExchangeTimeout(ExchangeError):
    pass


class Response:
    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers  # raw (name, value) pairs as received
        self.body = body

    def header(self, name: bytes) -> str | None:
        """The first value of header `name` (lower case), or None."""
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one exchange at a time (no pipelining)."""

    __slots__ = (
        "_body",
        "_complete",
        "_has_length",
        "_headers",
        "_headers_done",
        "_keep_alive",
        "_parser",
        "_reason",
        "_waiter",
        "dead",
        "idle_since",
        "transport",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.dead = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[Response] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._complete = False
        self._headers_done = False
        self._has_length = True
        self._keep_alive = False
        self._reason = ""

    # -- asyncio.Protocol ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection cannot be trusted any more
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ExchangeError("the subgraph switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(ExchangeError(f"not an HTTP answer: {exc}"))

    def eof_received(self) -> bool | None:
        self.dead = True
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.dead = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._headers_done and not self._has_length and not self._complete:
                # An answer without Content-Length nor chunks ends with the connection.
                self._complete = True
                waiter.set_result(self._response())
            else:
                reason = f"{type(exc).__name__}: {exc}" if exc else "the subgraph closed the connection"
                waiter.set_exception(ExchangeError(reason))

    # -- httptools callbacks ------------------------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self._reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._headers_done = True
        # Asked here: once the message is complete the parser has reset its flags.
        self._keep_alive = self._parser.should_keep_alive()
        self._has_length = any(
            key.lower() in (b"content-length", b"transfer-encoding") for key, _ in self._headers
        )

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._complete = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(self._response())

    # -- the exchange -------------------------------------------------------------------------------------

    def _response(self) -> Response:
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        return Response(self._parser.get_status_code(), self._reason, self._headers, body)

    def _fail(self, error: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.close()

    def start(self, request: bytes, waiter: asyncio.Future[Response]) -> None:
        self._waiter = waiter
        self._headers = []
        self._body = []
        self._complete = False
        self._headers_done = False
        self._has_length = True
        self._keep_alive = False
        self._reason = ""
        assert self.transport is not None
        self.transport.write(request)

    def reusable(self) -> bool:
        """After an exchange: may the connection carry the next one?"""
        return self._complete and self._keep_alive and not self.dead

    def finish(self) -> None:
        """The exchange is over and the connection goes back to the pool (its parser, reset by the answer's
        end, reads the next)."""
        self._waiter = None

    def close(self) -> None:
        self.dead = True
        if self.transport is not None:
            self.transport.close()


class Http1Pool:
    """Keep-alive connections to one origin (http://host:port), at most `limit` open at once; a connection
    idle longer than `keepalive` seconds is closed rather than reused (the server may be closing it)."""

    def __init__(self, url: str, *, limit: int, keepalive: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not a plain-HTTP URL: {url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        default_port = parts.port is None or parts.port == 80
        host_header = parts.hostname if default_port else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # an IPv6 literal
            host_header = f"[{parts.hostname}]" + ("" if default_port else f":{parts.port}")
        self._head = f"POST {target} HTTP/1.1\r\nhost: {host_header}\r\n".encode("latin-1")
        self.limit = limit
        self.keepalive = keepalive
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def post(self, body: bytes, headers: Mapping[str, str], seconds: float) -> Response:
        """POST `body` with `headers`; the answer, or ExchangeError / ExchangeTimeout after `seconds` (one
        timer for the whole exchange, connecting included: cheaper than an asyncio.timeout scope)."""
        lines = [self._head]
        for name, value in headers.items():
            if name in _OWN_HEADERS:
                continue
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
                raise ExchangeError(f"a line break in the header {name!r}")
            lines.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
        lines.append(b"content-length: %d\r\n\r\n" % len(body))
        lines.append(body)
        request = b"".join(lines)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Response] = loop.create_future()
        timer = loop.call_at(loop.time() + seconds, _expire, waiter, seconds)
        connection: _Connection | None = None
        try:
            connection = await self._checkout(loop, waiter)
            connection.start(request, waiter)
            response = await waiter
        except ExchangeError:
            raise
        except OSError as exc:
            raise ExchangeError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            timer.cancel()
            self._checkin(connection)
        return response

    async def _checkout(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[Any]) -> _Connection:
        while True:
            now = time.monotonic()
            while self._idle:
                connection = self._idle.pop()  # the most recently used: the least likely closed by the server
                if not connection.dead and now - connection.idle_since < self.keepalive:
                    return connection
                connection.close()
                self._open -= 1
            if self._open < self.limit:
                self._open += 1
                try:
                    connect = loop.create_connection(_Connection, self.host, self.port)
                    _, connection = await _racing(connect, waiter)
                except BaseException:
                    self._open -= 1
                    self._wake()
                    raise
                return connection
            free: asyncio.Future[None] = loop.create_future()
            self._waiters.append(free)
            try:
                await _racing(free, waiter)
            finally:
                if not free.done():
                    free.cancel()

    def _checkin(self, connection: _Connection | None) -> None:
        if connection is None:
            return
        if connection.reusable():
            connection.finish()
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
            self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            free = self._waiters.popleft()
            if not free.done():
                free.set_result(None)
                return

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._open -= len(self._idle)
        self._idle = []


# Headers the client writes itself: a rule's own value for one would make a second, conflicting one.
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def _expire(waiter: asyncio.Future[Any], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(ExchangeTimeout(f"no answer within {timeout:g} s"))


async def _racing(work: Any, waiter: asyncio.Future[Any]) -> Any:
    """`work`'s result, unless `waiter` (the exchange's) fails first (its timer): then that failure."""
    task = asyncio.ensure_future(work)
    if task.done():
        return task.result()
    try:
        await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # the fetch itself was cancelled: so is what it waited for
        task.cancel()
        raise
    if task.done():
        return task.result()
    task.cancel()
    waiter.result()  # raises the timeout
    raise AssertionError("unreachable")
