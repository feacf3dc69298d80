"""Redis clients for every process (one server or a Redis Cluster, `MYSHOP_REDIS_CLUSTER`), and the few
helpers that keep multi-key work legal on a cluster: hash tags, slot grouping, MGET split per slot.

On a cluster every key of one command, script or MULTI must hash to one slot; a key's `{tag}` (its first
braces) is what is hashed when present. Our rule: keys that meet in one call share a tag naming what they
belong to (`{<product id>}`, `{<user tag>}`, `{events}`), so related keys meet and unrelated ones spread.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.crc import key_slot
from redis.exceptions import (
    ConnectionError,
    RedisClusterUnreachableError,
    RedisError,
    SlotNotCoveredError,
    TimeoutError,
)

# What a Redis that is down, restarting, failing over or hung raises. A cluster adds two errors that are not
# RedisError (the whole cluster unreachable; a slot without a node while one restarts).
REDIS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisError,
    RedisClusterUnreachableError,
    SlotNotCoveredError,
    OSError,
    TimeoutError,
)

# A client of either kind: code that needs no cluster-specific call types its Redis as this.
AnyRedis = Redis | RedisCluster

K = TypeVar("K", bound=Hashable)


def create_redis(
    url: str,
    *,
    cluster: bool = False,
    max_connections: int | None = None,
    pool_timeout: float | None = None,
    **kwargs: Any,
) -> Any:
    """A client of the Redis at `url`: with `cluster`, a `RedisCluster` that learns every node from the one
    the URL names. `max_connections`/`pool_timeout`: one server gets a blocking pool (a burst waits for a
    connection instead of failing); a cluster has a pool per node of that size.

    Typed `Any`: `Redis` and `RedisCluster` share their commands but not a base class redis-py types."""
    if cluster:
        # A restarted or failing-over node: a few quick retries, each after a topology refresh (redis-py
        # refreshes on connection errors), before the caller's own outage handling takes over.
        retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 3)
        extra = {"max_connections": max_connections} if max_connections else {}
        kwargs.pop("health_check_interval", None)  # per-node connections check themselves on error
        return RedisCluster.from_url(
            url,
            retry=retry,
            retry_on_error=[ConnectionError, TimeoutError],
            **extra,
            **kwargs,
        )
    if max_connections:
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=pool_timeout, **kwargs
        )
        return Redis.from_pool(pool)
    return Redis.from_url(url, **kwargs)


def is_cluster(redis: object) -> bool:
    return isinstance(redis, RedisCluster)


def tagged(tag: object) -> str:
    """`{tag}`: a key part that alone decides the key's slot. Braces in the tag itself would end it early."""
    text = str(tag)
    if "{" in text or "}" in text:
        raise ValueError(f"a hash tag cannot hold braces: {text!r}")
    return "{" + text + "}"


def slot_of(key: str | bytes) -> int:
    return key_slot(key.encode() if isinstance(key, str) else key)


def by_slot(items: Iterable[K], key: Any) -> list[list[K]]:
    """`items` grouped by the slot of `key(item)`, first-seen order kept within and between groups."""
    groups: dict[int, list[K]] = defaultdict(list)
    for item in items:
        groups[slot_of(key(item))].append(item)
    return list(groups.values())


async def mget(redis: Any, keys: Sequence[str]) -> list[bytes | None]:
    """MGET of keys of any slots: one MGET on one server; on a cluster one per slot, sent to the nodes in
    parallel (redis-py's `mget_nonatomic`), answers in `keys`' order. Not atomic across slots (a cache or a
    revocation check needs no snapshot)."""
    if not keys:
        return []
    if is_cluster(redis):
        return list(await redis.mget_nonatomic(list(keys)))
    return list(await redis.mget(list(keys)))
