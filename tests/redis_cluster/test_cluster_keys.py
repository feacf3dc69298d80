"""Every Redis script and multi-key call of the services and the router on a three-node Redis Cluster: the
products cache (MGET split per slot, its compare-and-SET script and invalidation MULTI per slot), rate limits
(MULTI, the forgive script), APQ shared by two routers, sessions' scripts, the login throttle's scripts and
revocation checks over many users. And, without a server: the keys of every script meet in one slot."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from router.pipeline.edge.persisted import PersistedQueries, PersistedQueriesConfig
from router.pipeline.edge.rate_limit import ClientRateLimit, RateLimitConfig
from shared.auth import AccessToken
from shared.auth.principal import Principal
from shared.auth.tokens import RevocationStore
from shared.ratelimit import Limit, RateLimiter
from shared.redis_client import slot_of
from subgraphs.products.cache import ProductCache
from subgraphs.products.models import Product
from subgraphs.users.sessions import RefreshTokens, Rotation, SeenFrom
from subgraphs.users.throttle import Backoff, LoginThrottle

PREFIX = os.environ["MYSHOP_REDIS_PREFIX"]
SEEN = SeenFrom("127.0.0.1", "tests")


def product(product_id: uuid.UUID, price: int = 100) -> Product:
    now = datetime.now(UTC)
    return Product(
        id=product_id, sku=f"SKU-{product_id.hex[:8]}", name="Thing", description="", price_amount=price,
        price_currency="USD", category="things", active=True, created_at=now, updated_at=now,
        tax_class="standard", weight_grams=None,
    )  # fmt: skip


def access() -> AccessToken:
    return AccessToken("token", uuid.uuid4().hex, datetime.now(UTC) + timedelta(minutes=5))


# --- without a server: the keys of one script or MULTI share a slot -----------------------------------------


def test_the_keys_of_every_script_share_a_slot_and_unrelated_ones_spread() -> None:
    tokens = RefreshTokens(
        _NoRedis(), PREFIX, ttl_seconds=60, session_id_key=b"k" * 32
    )  # register_script only
    user = str(uuid.uuid4())
    token = tokens._new_token(user)
    session_keys = [
        tokens._token_key(token, user), tokens._grace_key(token, user), tokens._family_key(user, "f"),
        tokens._user_key(user), tokens._session_key(user, "f"), tokens._family_access_key(user, "f"),
    ]  # fmt: skip
    throttle = LoginThrottle(_NoRedis(), PREFIX, Backoff(4, 1, 900, 3600, 100, 3600, 86400))
    cache = ProductCache(_NoRedis(), PREFIX, ttl_seconds=60)
    ids = [uuid.uuid4() for _ in range(20)]

    assert len({slot_of(key) for key in session_keys}) == 1
    assert len({slot_of(key) for key in throttle._keys("a@example.com", "10.0.0.1")}) == 1
    assert all(slot_of(cache.entry_key(i)) == slot_of(cache.generation_key(i)) for i in ids)
    assert len({slot_of(cache.entry_key(i)) for i in ids}) > 10


class _NoRedis:
    def register_script(self, script: str) -> Any:
        return None


# --- on the cluster -----------------------------------------------------------------------------------------


async def test_the_products_cache_reads_through_writes_back_and_invalidates_across_slots(redis) -> None:
    # A generous timeout: on a loaded machine a write-back over 12 slots can pass the default 0.25 s, and the
    # cache then (rightly) skips it; this test is about where keys go, not about latency.
    cache = ProductCache(redis, PREFIX, ttl_seconds=60, timeout_seconds=10)
    ids = [uuid.uuid4() for _ in range(12)]
    loads: list[list[uuid.UUID]] = []

    async def load(wanted: list[uuid.UUID]) -> list[Product]:
        loads.append(wanted)
        return [product(i) for i in wanted]

    first = await cache.get_many(ids, load)
    second = await cache.get_many(ids, load)
    assert set(first) == set(second) == set(ids)
    assert loads == [ids]  # the second read came from the cluster

    assert await cache.invalidate(ids[:5]) == 5
    await cache.get_many(ids, load)
    assert sorted(loads[1]) == sorted(ids[:5])
    assert await redis.get(cache.generation_key(ids[0])) == b"1"


async def test_a_write_back_racing_an_invalidation_is_skipped_on_the_cluster(redis) -> None:
    cache = ProductCache(redis, PREFIX, ttl_seconds=60, timeout_seconds=10)
    stale_id = uuid.uuid4()

    async def load_racing(wanted: list[uuid.UUID]) -> list[Product]:
        await cache.invalidate([stale_id])  # a writer commits between the reader's MGETs and its write-back
        return [product(i, price=1) for i in wanted]

    await cache.get_many([stale_id], load_racing)

    assert await redis.get(cache.entry_key(stale_id)) is None


async def test_rate_limits_count_and_forgive_on_the_cluster_and_two_routers_share_one(redis_cluster) -> None:
    client = redis_cluster.client()
    limiter = RateLimiter(client, PREFIX)
    limit = Limit(attempts=2, window_seconds=30)
    assert [(await limiter.hit("login:a", limit)).allowed for _ in range(3)] == [True, True, False]
    await limiter.forgive("login:a")
    assert (await limiter.hit("login:a", limit)).count == 3
    await client.aclose()

    config = RateLimitConfig(
        enabled=True, requests=3, window_seconds=30, redis_url=redis_cluster.url, redis_cluster=True,
        key_prefix=f"{PREFIX}router:", redis_timeout=2.0,
    )  # fmt: skip
    one, two = ClientRateLimit(config), ClientRateLimit(config)
    answers = [await router.retry_after("client-1") for router in (one, two, one, two)]
    await one.close()
    await two.close()
    assert answers[:3] == [None, None, None] and answers[3] is not None


async def test_a_query_registered_with_one_router_is_known_to_another_through_the_cluster(
    redis_cluster,
) -> None:
    config = PersistedQueriesConfig(
        redis_url=redis_cluster.url, redis_cluster=True, redis_key_prefix=f"{PREFIX}apq:"
    )
    one, two = PersistedQueries(config), PersistedQueries(config)
    await one._redis_set("abc", "{ products { id } }")
    assert await two._redis_get("abc") == "{ products { id } }"
    await one.close()
    await two.close()


async def test_sessions_rotate_detect_reuse_and_end_everywhere_on_the_cluster(redis) -> None:
    tokens = RefreshTokens(redis, PREFIX, ttl_seconds=60, session_id_key=b"k" * 32, grace_seconds=0)
    user = str(uuid.uuid4())
    first = await tokens.start_family(user, access(), family=tokens.new_family(), seen=SEEN)
    await tokens.start_family(user, access(), family=tokens.new_family(), seen=SEEN)

    owner = await tokens.owner(first.token)
    rotated = await tokens.rotate(first.token, owner, access(), SEEN)
    assert rotated.result is Rotation.ROTATED
    assert (await tokens.rotate(first.token, owner, access(), SEEN)).result is Rotation.REUSED
    assert len(await tokens.sessions(user)) == 1

    assert await tokens.revoke_user(user) == 1
    assert await tokens.sessions(user) == []
    assert await tokens.owner("not-a-token") is None


async def test_the_login_throttle_scripts_run_on_the_cluster(redis) -> None:
    throttle = LoginThrottle(redis, PREFIX, Backoff(1, 60, 900, 3600, 100, 3600, 86400))
    await throttle.claim("b@example.com", "10.0.0.2")
    await throttle.claim("b@example.com", "10.0.0.2")
    try:
        await throttle.claim("b@example.com", "10.0.0.2")
    except Exception as exc:
        assert type(exc).__name__ == "RateLimited"
    else:
        raise AssertionError("the third attempt was let through")
    await throttle.succeeded("b@example.com", "10.0.0.2")
    await throttle.claim("b@example.com", "10.0.0.2")


async def test_revocations_of_many_users_are_checked_on_the_cluster(redis) -> None:
    store = RevocationStore(redis, PREFIX)
    now = datetime.now(UTC).timestamp()
    principals = [
        Principal(subject=str(uuid.uuid4()), roles=frozenset(), token_id=uuid.uuid4().hex,
                  issued_at=now - 10, expires_at=now + 300)
        for _ in range(8)
    ]  # fmt: skip
    await store.revoke_token(principals[1].token_id, now + 300)
    await store.revoke_user(principals[5].subject, keep_seconds=300)

    assert await store.revoked_among(principals) == [i in (1, 5) for i in range(8)]
    assert await store.is_revoked(principals[5]) and not await store.is_revoked(principals[0])
