"""Product images' way upstream (router/http/media.py is their door): `media:` in router.yaml, and one
keep-alive pool to the subgraph that serves `/media/*`, separate from the GraphQL fetches' pools so a burst
of image downloads cannot take the connections queries need."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from shared.keepalive import CLIENT_KEEP_ALIVE_SECONDS


class MediaConfig(BaseModel):
    """`media:` in router.yaml."""

    model_config = ConfigDict(extra="forbid")

    # Off unless enabled: a router in front of subgraphs that serve no files answers `/media/*` 404.
    enabled: bool = False
    # The subgraph (its name in the supergraph) whose origin serves `/media/*`.
    subgraph: str = "products"
    # The whole exchange (a 10 MiB original to a slow client included).
    timeout_seconds: float = Field(60.0, gt=0)
    connections: int = Field(64, ge=1)


class MediaUpstream:
    def __init__(self, config: MediaConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None  # made on first use, on the serving loop
        self._origins: dict[str, str] = {}

    def url(self, subgraphs: Mapping[str, str], path: str) -> str | None:
        """`path` at the origin of the media subgraph's GraphQL URL; None when the supergraph has no such
        subgraph."""
        graphql_url = subgraphs.get(self.config.subgraph)
        if graphql_url is None:
            return None
        origin = self._origins.get(graphql_url)
        if origin is None:
            parts = urlsplit(graphql_url)
            origin = self._origins[graphql_url] = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        return origin + path

    def request(
        self, method: str, url: str, headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.config.connections, keepalive_timeout=CLIENT_KEEP_ALIVE_SECONDS
                ),
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                auto_decompress=False,
            )
        return self._session.request(method, url, headers=headers, allow_redirects=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
