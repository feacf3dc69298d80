"""HTTP to the subgraphs: one keep-alive connection pool per subgraph, JSON in and out (orjson).

Measured on the gateways-benchmark stand-ins, one core, small POSTs: httpx 2.6-2.9 ms a request, aiohttp
0.4-0.6 ms, a bare asyncio-streams client 0.14-0.23 ms. So plain-HTTP subgraphs get the router's own
HTTP/1.1 client (router/upstream/http1.py, the measured reason there); HTTPS subgraphs and multipart uploads
(a streamed body) keep aiohttp, the well-kept general client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Mapping
from typing import Any

import aiohttp
import orjson

from router.upstream.http1 import ExchangeError, ExchangeTimeout, Http1Pool, Response
from router.upstream.uploads import fetch_upload
from shared.keepalive import CLIENT_KEEP_ALIVE_SECONDS


class SubgraphFetchError(Exception):
    """A subgraph could not be asked, or did not answer with a GraphQL response."""

    code = "SUBREQUEST_HTTP_ERROR"
    # May the subgraph answer if asked again (refused, reset, timed out, 5xx)? Such a failure counts against
    # its circuit breaker, and a query fetch is retried.
    transient = True


class SubgraphTimeoutError(SubgraphFetchError):
    code = "SUBREQUEST_TIMEOUT"


class SubgraphHTTPError(SubgraphFetchError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.transient = status >= 500


class SubgraphAnswer(dict):
    """A subgraph's GraphQL response and the `Cache-Control` it came with (for the entity cache)."""

    __slots__ = ("cache_control", "headers")

    def __init__(
        self, payload: dict[str, Any], cache_control: str | None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(payload)
        self.cache_control = cache_control
        # The response's headers (lower-case names), kept only for subgraph-response plugins.
        self.headers = headers


class SubgraphTransport:
    """One pool per subgraph, so a slow subgraph cannot take the connections the others need. It sends bytes
    and reads a GraphQL answer; what to send, and what to do when it fails, is the resilient client's
    (router/upstream/resilient.py)."""

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout: float = 30.0,
        timeouts: Mapping[str, float] | None = None,
        connections: int = 128,
    ) -> None:
        self.urls = dict(urls)  # graph -> url
        # graph -> seconds a fetch may take (the whole exchange), `timeout` for the others.
        self.timeouts = {graph: (timeouts or {}).get(graph, timeout) for graph in self.urls}
        self._connections = connections
        # Graphs whose answers keep their `Cache-Control` (router/execution/entity_cache.py): set by the
        # gateway.
        self.cache_control_graphs: frozenset[str] = frozenset()
        # Whether answers keep their response headers (router/upstream/hooks.py: subgraph-response plugins).
        self.keep_headers = False
        # Made on first use: an aiohttp session belongs to the event loop that creates it.
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        # graph -> the router's own client's pool (plain-HTTP subgraphs; made on first use, like a session).
        self._pools: dict[str, Http1Pool] = {}
        self._plain = frozenset(graph for graph, url in self.urls.items() if url.startswith("http://"))

    def _session(self, graph: str) -> aiohttp.ClientSession:
        session = self._sessions.get(graph)
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self._connections, keepalive_timeout=CLIENT_KEEP_ALIVE_SECONDS, ttl_dns_cache=300
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeouts[graph]),
                skip_auto_headers=("User-Agent",),
            )
            self._sessions[graph] = session
        return session

    async def send(self, graph: str, data: bytes, request_headers: Mapping[str, str]) -> dict[str, Any]:
        """One exchange: `data` (a JSON request) with `request_headers` (router.yaml's rules applied) to
        `graph`."""
        upload = fetch_upload.get()
        if upload is not None:
            # The fetch carries a client's files: multipart, streamed (upstream/uploads.py).
            return await upload.send(self._exchange, graph, data, request_headers)
        if graph in self._plain:
            return await self._plain_exchange(graph, data, request_headers)
        return await self._exchange(graph, data, request_headers)

    async def _plain_exchange(
        self, graph: str, data: bytes, request_headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """`_exchange` over the router's own HTTP/1.1 client (a plain-HTTP subgraph, a byte body)."""
        pool = self._pools.get(graph)
        if pool is None:
            pool = self._pools[graph] = Http1Pool(
                self.urls[graph], limit=self._connections, keepalive=CLIENT_KEEP_ALIVE_SECONDS
            )
        try:
            response: Response = await pool.post(data, request_headers, self.timeouts[graph])
        except ExchangeTimeout as exc:
            raise SubgraphTimeoutError(str(exc)) from exc
        except ExchangeError as exc:
            raise SubgraphFetchError(str(exc)) from exc
        cache_control = response.header(b"cache-control") if graph in self.cache_control_graphs else None
        kept = (
            {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
            if self.keep_headers
            else None
        )
        return _answer(response.body, response.status, response.reason, cache_control, kept)

    async def _exchange(
        self, graph: str, data: bytes | AsyncIterable[bytes], request_headers: Mapping[str, str]
    ) -> dict[str, Any]:
        try:
            async with self._session(graph).post(
                self.urls[graph], data=data, headers=request_headers
            ) as response:
                content = await response.read()
                status, reason = response.status, response.reason or ""
                cache_control = (
                    response.headers.get("Cache-Control") if graph in self.cache_control_graphs else None
                )
                kept = {k.lower(): v for k, v in response.headers.items()} if self.keep_headers else None
        except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
            raise SubgraphTimeoutError(f"no answer within {self.timeouts[graph]:g} s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise SubgraphFetchError(f"{type(exc).__name__}: {exc}") from exc
        return _answer(content, status, reason, cache_control, kept)

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(session.close() for session in sessions))


def _answer(
    content: bytes, status: int, reason: str, cache_control: str | None, kept: dict[str, str] | None
) -> dict[str, Any]:
    """A subgraph's response body as its GraphQL answer (either client's); not one: SubgraphHTTPError."""
    try:
        payload = orjson.loads(content)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict) or ("data" not in payload and "errors" not in payload):
        raise SubgraphHTTPError(status, reason)
    if cache_control is not None or kept is not None:
        return SubgraphAnswer(payload, cache_control, kept)
    return payload
