"""Persisted queries: Apollo's automatic persisted queries (APQ), and a safelist for production.

APQ (on by default): a client sends `extensions: {"persistedQuery": {"version": 1, "sha256Hash": H}}` without
the query; the router runs the query it has under H, or answers `PersistedQueryNotFound`
(`extensions.code: PERSISTED_QUERY_NOT_FOUND`, HTTP 200, not cacheable), and the client sends the query with
the hash once: the router checks the hash (`PERSISTED_QUERY_HASH_MISMATCH`, 400), keeps the query and runs it.
Over GET (`?extensions={...}&variables={...}`) such small URLs can be cached by a CDN. Every door looks
queries up here (HTTP, SSE, a WebSocket's `subscribe`). Registrations live in an in-process LRU and, with
`redis_url` set, in Redis too (key `myshop:router:apq:<hash>`, expiring after `ttl_seconds`), so every router
replica knows a query any of them was sent; Redis being down only costs a round trip (the client sends the
query again), never a failed request.

Safelist (`safelist: manifest.json`): only the manifest's operations run. A client names one by
`extensions.persistedQuery.sha256Hash` (Apollo Client's persisted-query link) or by `documentId` (the
GraphQL-over-HTTP persisted documents proposal; a `sha256:` prefix is allowed), or sends a body exactly equal
to a registered one; anything else is refused with `PERSISTED_QUERY_NOT_IN_LIST` before it is parsed, planned
or sent to a subgraph. APQ registration is off in this mode. The manifest is Apollo's persisted-query manifest
(`{"format": "apollo-persisted-query-manifest", "version": 1,
"operations": [{"id", "name", "type", "body"}]}`) or a plain `{"<id>": "<body>"}` object (Relay's).
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from cachetools import LRUCache
from pydantic import BaseModel, ConfigDict, Field

from router.pipeline.errors import BAD_REQUEST, RequestError, error
from router.pipeline.request import GraphQLRequest
from shared.outage import Outage

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
APOLLO_MANIFEST = "apollo-persisted-query-manifest"


class PersistedQueriesConfig(BaseModel):
    """router.yaml's `persisted_queries:`."""

    model_config = ConfigDict(extra="forbid")

    apq: bool = True
    cache_size: int = Field(10_000, ge=1)
    # Shared registrations between router replicas; empty keeps them in this process only.
    redis_url: str = ""
    # `redis_url` names one node of a Redis Cluster (one key per query: they spread).
    redis_cluster: bool = False
    ttl_seconds: int = Field(7 * 24 * 3600, ge=1)
    redis_key_prefix: str = "myshop:router:apq:"
    # A manifest file: safelist mode (only its operations run, APQ registration off).
    safelist: Path | None = None


# Never cached: a query registered a moment later must not keep answering "not found".
_NO_STORE = ((b"cache-control", b"private, no-cache, must-revalidate"),)


class PersistedQueryError(RequestError):
    """The persisted query cannot run; `status` 400 is a request error (200 for application/json)."""

    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__([error(message, code)], status, _NO_STORE)


class ManifestError(ValueError):
    """The safelist manifest is missing or not one we can read."""


class Safelist:
    def __init__(self, operations: dict[str, str]) -> None:
        self.by_id = operations
        self.bodies = frozenset(operations.values())

    @classmethod
    def load(cls, path: Path) -> Safelist:
        try:
            manifest = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ManifestError(f"cannot read the safelist manifest {path}: {exc}") from exc
        if isinstance(manifest, dict) and "operations" in manifest:
            if manifest.get("format") != APOLLO_MANIFEST or manifest.get("version") != 1:
                raise ManifestError(f"{path}: expected format {APOLLO_MANIFEST!r}, version 1")
            operations: dict[str, str] = {}
            for index, operation in enumerate(manifest["operations"] or ()):
                if not isinstance(operation, dict) or not all(
                    isinstance(operation.get(key), str) for key in ("id", "body")
                ):
                    raise ManifestError(f"{path}: operation {index} needs string `id` and `body`")
                operations[operation["id"]] = operation["body"]
        elif isinstance(manifest, dict) and all(isinstance(v, str) for v in manifest.values()):
            operations = dict(manifest)
        else:
            raise ManifestError(f"{path}: expected an Apollo persisted-query manifest or {{id: body}}")
        return cls(operations)

    def query(self, document_id: str | None, query: str | None) -> str:
        if document_id is not None:
            body = self.by_id.get(document_id)
            if body is None:
                raise PersistedQueryError(f"operation {document_id!r} is not in the safelist", NOT_IN_LIST)
            if query is not None and query != body:
                raise PersistedQueryError(
                    f"the query sent with operation {document_id!r} is not the registered one", NOT_IN_LIST
                )
            return body
        if query is not None and query in self.bodies:
            return query
        raise PersistedQueryError("this operation is not in the safelist", NOT_IN_LIST)


class PersistedQueries:
    """Finds the query a request names (`resolve`), or refuses the request."""

    def __init__(self, config: PersistedQueriesConfig | None = None) -> None:
        config = config or PersistedQueriesConfig()
        self.safelist = Safelist.load(config.safelist) if config.safelist is not None else None
        self.apq = config.apq and self.safelist is None
        # Every request goes through `resolve` in safelist mode, else only those naming a persisted query.
        self.always = self.safelist is not None
        self._cache: LRUCache[str, str] = LRUCache(config.cache_size)
        self._ttl = config.ttl_seconds
        self._prefix = config.redis_key_prefix
        self._redis: Redis | None = None
        if self.apq and config.redis_url:
            from shared.redis_client import create_redis

            # Short timeouts: Redis is an optimisation here, a slow one must not hold requests up.
            self._redis = create_redis(
                config.redis_url, cluster=config.redis_cluster, socket_timeout=0.5, socket_connect_timeout=0.5
            )
        self._outage = Outage(logger, max_backoff=30.0)
        self._redis_retry_at = 0.0

    async def resolve(self, request: GraphQLRequest) -> None:
        """Sets `request.query` to the query to run; raises PersistedQueryError."""
        query = request.query
        document_id = _document_id(request)
        if self.safelist is not None:
            request.query = self.safelist.query(document_id, query)
            return
        if document_id is None:
            return
        if not self.apq:
            if query is None:
                raise PersistedQueryError("PersistedQueryNotSupported", NOT_SUPPORTED, 200)
            return
        if query is None:
            stored = self._cache.get(document_id)
            if stored is None:
                stored = await self._redis_get(document_id)
                if stored is None:
                    raise PersistedQueryError("PersistedQueryNotFound", NOT_FOUND, 200)
                self._cache[document_id] = stored
            request.query = stored
            return
        if self._cache.get(document_id) == query:
            return  # registered before: its hash was checked then
        if hashlib.sha256(query.encode()).hexdigest() != document_id.lower():
            raise PersistedQueryError("provided sha does not match query", HASH_MISMATCH)
        self._cache[document_id] = query
        await self._redis_set(document_id, query)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    # --- Redis, best effort ---------------------------------------------------------------------------------

    def _redis_usable(self) -> bool:
        return time.monotonic() >= self._redis_retry_at

    def _redis_failed(self, exc: Exception) -> None:
        self._outage.failed("APQ: Redis unavailable (%s); registrations stay in this process", exc)
        self._redis_retry_at = time.monotonic() + self._outage.backoff

    async def _redis_get(self, key: str) -> str | None:
        if self._redis is None or not self._redis_usable():
            return None
        try:
            value = await self._redis.get(self._prefix + key)
        except Exception as exc:  # redis' errors, OSError, timeouts: all mean "not shared right now"
            self._redis_failed(exc)
            return None
        self._outage.recovered("APQ: Redis back after %.1f s")
        return value.decode() if isinstance(value, bytes) else value

    async def _redis_set(self, key: str, query: str) -> None:
        if self._redis is None or not self._redis_usable():
            return
        try:
            await self._redis.set(self._prefix + key, query.encode(), ex=self._ttl)
        except Exception as exc:
            self._redis_failed(exc)
            return
        self._outage.recovered("APQ: Redis back after %.1f s")


def _document_id(request: GraphQLRequest) -> str | None:
    """The persisted query a request names (a sha256 in hex for APQ), None when it names none."""
    extensions = request.extensions
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is not None:
        if not isinstance(persisted, dict):
            raise PersistedQueryError("extensions.persistedQuery must be an object", BAD_REQUEST)
        if persisted.get("version") != 1:
            raise PersistedQueryError("only version 1 of persisted queries is supported", BAD_REQUEST)
        sha = persisted.get("sha256Hash")
        if not isinstance(sha, str) or not sha:
            raise PersistedQueryError("extensions.persistedQuery.sha256Hash must be a string", BAD_REQUEST)
        return sha
    document_id = request.document_id
    if document_id is None:
        return None
    if not isinstance(document_id, str) or not document_id:
        raise PersistedQueryError("documentId must be a string", BAD_REQUEST)
    prefix, sep, rest = document_id.partition(":")
    return rest if sep and prefix == "sha256" else document_id
