"""The router's WebSocket client to the subgraphs (graphql-transport-ws), which subscriptions open: one
socket per subscriber, to the subgraph owning the subscription's root field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from router.plugins import PluginChain
from router.upstream.hooks import FetchRefused, before_fetch

PROTOCOL = "graphql-transport-ws"


def ws_url(http_url: str) -> str:
    """The subgraph's WebSocket URL: its HTTP URL with ws:// or wss://."""
    if http_url.startswith("https://"):
        return "wss://" + http_url[len("https://") :]
    if http_url.startswith("http://"):
        return "ws://" + http_url[len("http://") :]
    return http_url


class SubgraphSockets:
    """The router's WebSocket client to the subgraphs: one aiohttp session, no connection limit (every
    subscription holds its own socket for as long as it lasts)."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self.urls = {graph: ws_url(url) for graph, url in urls.items()}
        self._session: aiohttp.ClientSession | None = None
        # router.yaml's plugins with subgraph hooks, set by router/server.py; None: none.
        self.plugins: PluginChain | None = None

    async def before_connect(
        self, subgraph: str, body: dict[str, Any], headers: dict[str, str]
    ) -> FetchRefused | None:
        """The subgraph-request hooks of a subscription's connection (they may change the handshake's
        `headers`); the refusal to answer with, if one refuses or fails."""
        if self.plugins is None:
            return None
        try:
            await before_fetch(self.plugins, subgraph, body, headers, transport="websocket")
        except FetchRefused as refused:
            return refused
        return None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
