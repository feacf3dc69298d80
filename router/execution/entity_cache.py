"""The router's optional entity cache: `_entities` answers kept in Redis (so replicas share them) per subgraph
and type, keyed by the representation, the fetch's operation and variables and, unless the type is marked
public, the credentials the subgraph is sent (so one user's entry is never another's).

```yaml
entity_cache:
  enabled: true
  redis_url: redis://redis:6379/0
  subgraphs:
    products:
      types:
        Product: {ttl: 60s, public: true}   # the same for everyone: one entry for all users
        Review: 30s                         # private: one entry per Authorization/Cookie
```

A subgraph's `Cache-Control` has the last word: `no-store`, `no-cache` (nothing to revalidate with) and, for a
public type, `private` keep an answer out; `s-maxage`/`max-age` cap the TTL. Redis down or slow: fetches go to
the subgraphs as if there were no cache, one WARNING when that starts and one INFO when it ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from router.durations import Seconds
from router.planner.nodes import Fetch
from shared.outage import Outage

logger = logging.getLogger(__name__)

# Operation digests kept per fetch (bounded: plans come and go with the plan cache).
_DIGEST_CACHE_SIZE = 4096


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ttl_alone(value: Any) -> Any:
    """`Product: 60s` is `Product: {ttl: 60s}`."""
    return value if isinstance(value, Mapping) else {"ttl": value}


class EntityTypeCacheConfig(_Strict):
    ttl: Seconds | None = Field(None, ge=0)  # None: the subgraph's
    public: bool | None = None  # None: the subgraph's


class SubgraphEntityCacheConfig(_Strict):
    ttl: Seconds | None = Field(None, ge=0)  # None: `default_ttl`
    # Public: the answers do not depend on who asks, so the key leaves the credentials out.
    public: bool = False
    types: dict[str, Annotated[EntityTypeCacheConfig, BeforeValidator(_ttl_alone)]] = Field(
        default_factory=dict
    )


class EntityCacheConfig(_Strict):
    enabled: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    # `redis_url` names one node of a Redis Cluster (the answers spread over it; MGET is split per slot).
    redis_cluster: bool = False
    prefix: str = "myshop:router:entities:"
    # The TTL of types no setting names, in subgraphs the cache covers; 0: they are not cached.
    default_ttl: Seconds = Field(0.0, ge=0)
    # Headers (as sent to the subgraph) that say who asks: the key of a private entry includes their values.
    private_headers: frozenset[str] = frozenset({"authorization", "cookie"})
    # How long a fetch waits for Redis before it goes to the subgraph uncached.
    redis_timeout: Seconds = Field(0.1, gt=0)
    subgraphs: dict[str, SubgraphEntityCacheConfig] = Field(default_factory=dict)


def cache_control_ttl(header: str | None, ttl: int, public: bool) -> int:
    """The seconds an answer may be kept given its `Cache-Control` (0: not at all), at most `ttl`."""
    if not header:
        return ttl
    shared_age = age = None
    for directive in header.lower().split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip()
        if name in ("no-store", "no-cache") or (name == "private" and public):
            return 0
        if name in ("max-age", "s-maxage"):
            try:
                seconds = int(value.strip().strip('"'))
            except ValueError:
                return 0  # a malformed lifetime is no permission to keep the answer
            if name == "max-age":
                age = seconds
            else:
                shared_age = seconds
    limit = shared_age if shared_age is not None else age  # we are a shared cache: s-maxage wins
    return ttl if limit is None else max(0, min(ttl, limit))


class _Policy:
    """One subgraph's settings, resolved: type -> (TTL in whole seconds, public), and the rest's."""

    __slots__ = ("default", "name", "types")

    def __init__(self, name: str, config: SubgraphEntityCacheConfig, default_ttl: float) -> None:
        self.name = name
        base_ttl = config.ttl if config.ttl is not None else default_ttl
        self.default = (int(base_ttl), config.public)
        self.types = {
            type_name: (
                int(setting.ttl if setting.ttl is not None else base_ttl),
                setting.public if setting.public is not None else config.public,
            )
            for type_name, setting in config.types.items()
        }

    def caches_anything(self) -> bool:
        return self.default[0] > 0 or any(ttl > 0 for ttl, _ in self.types.values())


class Slot:
    """Where one representation's answer lives in the cache, if it may be cached."""

    __slots__ = ("key", "public", "subgraph", "ttl", "type_name")

    def __init__(self, key: str, subgraph: str, type_name: str, ttl: int, public: bool) -> None:
        self.key = key
        self.subgraph = subgraph
        self.type_name = type_name
        self.ttl = ttl
        self.public = public


class EntityCache:
    def __init__(
        self, config: EntityCacheConfig, names: Mapping[str, str], type_names: frozenset[str]
    ) -> None:
        """`names`: the subgraph's name by graph; `type_names`: the supergraph's types (settings naming any
        other subgraph or type are refused: a typo must not silently turn caching off)."""
        unknown = sorted(set(config.subgraphs) - set(names.values()))
        if unknown:
            raise ValueError(f"entity_cache settings for unknown subgraphs: {', '.join(unknown)}")
        for subgraph, settings in config.subgraphs.items():
            strangers = sorted(set(settings.types) - type_names)
            if strangers:
                raise ValueError(f"entity_cache.subgraphs.{subgraph}: unknown types {', '.join(strangers)}")
        self.config = config
        policies = {
            graph: _Policy(name, config.subgraphs.get(name, SubgraphEntityCacheConfig()), config.default_ttl)
            for graph, name in names.items()
        }
        # Graphs with something to cache: the executor asks only about these.
        self.policies = {graph: p for graph, p in policies.items() if p.caches_anything()}
        self.graphs = frozenset(self.policies)
        self._private_headers = tuple(sorted(h.lower() for h in config.private_headers))
        self._digests: dict[Fetch, bytes] = {}
        # redis is imported here, not at the top: a router without the cache keeps it out of its memory.
        from shared.redis_client import REDIS_UNAVAILABLE, create_redis, mget

        self.redis = create_redis(
            config.redis_url,
            cluster=config.redis_cluster,
            socket_timeout=config.redis_timeout,
            socket_connect_timeout=config.redis_timeout,
        )
        self._mget = mget
        self._unreachable = REDIS_UNAVAILABLE
        self.timeout = config.redis_timeout
        self.outage = Outage(logger, max_backoff=5.0)
        self._next_try = 0.0
        # (subgraph, type) -> representations answered from the cache / sent to the subgraph.
        self.hits: dict[tuple[str, str], int] = {}
        self.misses: dict[tuple[str, str], int] = {}
        self.failures = 0

    def slots(
        self,
        fetch: Fetch,
        representations: list[dict[str, Any]],
        variables: Mapping[str, Any],
        headers: Mapping[str, str],
    ) -> list[Slot | None]:
        """Each representation's place in the cache (None: its type is not cached). `variables` are the
        fetch's own (the representations aside), `headers` those the subgraph is sent."""
        policy = self.policies[fetch.graph]
        digest = self._digests.get(fetch)
        if digest is None:
            if len(self._digests) >= _DIGEST_CACHE_SIZE:
                self._digests.clear()
            digest = self._digests[fetch] = hashlib.blake2b(
                f"{policy.name}\0{fetch.operation}".encode(), digest_size=16
            ).digest()
        shared = digest + orjson.dumps(variables, option=orjson.OPT_SORT_KEYS) if variables else digest
        private = shared + orjson.dumps([headers.get(name) for name in self._private_headers])
        out: list[Slot | None] = []
        prefix = self.config.prefix
        for representation in representations:
            type_name = representation["__typename"]
            ttl, public = policy.types.get(type_name, policy.default)
            if ttl <= 0:
                out.append(None)
                continue
            material = (shared if public else private) + orjson.dumps(
                representation, option=orjson.OPT_SORT_KEYS
            )
            key = hashlib.blake2b(material, digest_size=16).hexdigest()
            out.append(Slot(f"{prefix}{policy.name}:{type_name}:{key}", policy.name, type_name, ttl, public))
        return out

    async def read(self, slots: list[Slot | None]) -> list[bytes | None]:
        """The cached answer of each slot (None: none, or no slot); all None while Redis is unreachable."""
        keys = [slot.key for slot in slots if slot is not None]
        found: list[bytes | None] = [None] * len(slots)
        if not keys or not self._available():
            return found
        try:
            async with asyncio.timeout(self.timeout):
                values = await self._mget(self.redis, keys)
        except self._unreachable as exc:
            self._failed(exc)
            return found
        self._recovered()
        hits, misses = self.hits, self.misses
        values_iter = iter(values)
        for i, slot in enumerate(slots):
            if slot is None:
                continue
            value = next(values_iter)
            counter = misses if value is None else hits
            counter[slot.subgraph, slot.type_name] = counter.get((slot.subgraph, slot.type_name), 0) + 1
            found[i] = value
        return found

    async def write(self, entries: list[tuple[Slot, bytes, int]]) -> None:
        """Keeps each `(slot, answer, seconds)`, in one round trip."""
        if not entries or not self._available():
            return
        try:
            async with asyncio.timeout(self.timeout):
                async with self.redis.pipeline(transaction=False) as pipe:
                    for slot, value, seconds in entries:
                        pipe.set(slot.key, value, ex=seconds)
                    await pipe.execute()
        except self._unreachable as exc:
            self._failed(exc)
            return
        self._recovered()

    def _available(self) -> bool:
        return not self._next_try or time.monotonic() >= self._next_try

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.outage.failed(
            "the router's entity cache cannot reach Redis (%s): entities go uncached until it is back",
            f"{type(exc).__name__}: {exc}",
        )
        self._next_try = time.monotonic() + self.outage.backoff

    def _recovered(self) -> None:
        if self._next_try:
            self._next_try = 0.0
            self.outage.recovered("the router's entity cache reaches Redis again after %.1f s")

    def register_metrics(self, registry: CollectorRegistry) -> None:
        registry.register(EntityCacheMetrics(self))

    async def close(self) -> None:
        await self.redis.aclose()


class EntityCacheMetrics(Collector):
    def __init__(self, cache: EntityCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        lookups = CounterMetricFamily(
            "myshop_router_entity_cache_lookups",
            "Entity representations looked up in the router's entity cache, by result (hit, miss).",
            labels=["service", "subgraph", "type", "result"],
        )
        for result, counts in (("hit", self.cache.hits), ("miss", self.cache.misses)):
            for (subgraph, type_name), count in counts.items():
                lookups.add_metric(["router", subgraph, type_name, result], count)
        yield lookups
        failures = CounterMetricFamily(
            "myshop_router_entity_cache_failures",
            "Reads and writes of the entity cache that failed (Redis down or slow): fetched uncached.",
            labels=["service"],
        )
        failures.add_metric(["router"], self.cache.failures)
        yield failures

    def describe(self) -> Iterator[Metric]:
        return iter(())
