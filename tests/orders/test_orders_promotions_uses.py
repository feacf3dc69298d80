"""reserve_use / release_use: atomic under concurrency, idempotent per (promotion, order), per customer."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.db import pgbouncer_safe
from subgraphs.orders import promotion_repository
from subgraphs.orders.models import Promotion, PromotionUse
from subgraphs.orders.promotion_repository import UseOutcome


@pytest.fixture
async def sessions(
    api: Any, engines: dict[str, AsyncEngine]
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the orders database (emptied by `api`), from an engine of 15 connections: enough for
    reservations to really race (the tests' shared engine holds 5). Where the shared engine's URL is the run's
    PgBouncer (tests/conftest.py), in transaction mode: its server pool of the database races them."""
    engine = create_async_engine(
        engines["orders"].url, pool_size=15, max_overflow=0, connect_args=pgbouncer_safe()
    )
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def new_promotion(sessions: async_sessionmaker[AsyncSession], **values: Any) -> uuid.UUID:
    async with sessions() as session, session.begin():
        promotion = Promotion(name="Demo", kind="PERCENTAGE", value=1000, scope="ALL", **values)
        session.add(promotion)
        await session.flush()
        return promotion.id


async def reserve(
    sessions: async_sessionmaker[AsyncSession],
    promotion_id: uuid.UUID,
    order_id: uuid.UUID,
    user_id: uuid.UUID | None,
) -> UseOutcome:
    """One reservation in a transaction of its own, as the saga's step runs it."""
    async with sessions() as session, session.begin():
        return await promotion_repository.reserve_use(session, promotion_id, order_id, user_id)


async def counts(sessions: async_sessionmaker[AsyncSession], promotion_id: uuid.UUID) -> tuple[int, int]:
    async with sessions() as session:
        used = await session.scalar(select(Promotion.used_count).where(Promotion.id == promotion_id))
        rows = await session.scalar(
            select(func.count()).select_from(PromotionUse).where(PromotionUse.promotion_id == promotion_id)
        )
        return int(used or 0), int(rows or 0)


async def test_a_hundred_concurrent_reservations_of_a_ten_use_voucher_count_exactly_ten(sessions):
    promotion_id = await new_promotion(sessions, code="TEN", usage_limit=10)

    outcomes = await asyncio.gather(
        *(reserve(sessions, promotion_id, uuid.uuid4(), uuid.uuid4()) for _ in range(100))
    )

    assert Counter(outcomes) == {UseOutcome.RESERVED: 10, UseOutcome.USED_UP: 90}
    assert await counts(sessions, promotion_id) == (10, 10)


async def test_concurrent_reservations_of_one_customer_stop_at_their_limit(sessions):
    promotion_id = await new_promotion(sessions, per_customer_limit=2)
    customer = uuid.uuid4()

    outcomes = await asyncio.gather(
        *(reserve(sessions, promotion_id, uuid.uuid4(), customer) for _ in range(20))
    )

    assert Counter(outcomes) == {UseOutcome.RESERVED: 2, UseOutcome.CUSTOMER_LIMIT: 18}
    assert await reserve(sessions, promotion_id, uuid.uuid4(), uuid.uuid4()) is UseOutcome.RESERVED
    assert await counts(sessions, promotion_id) == (3, 3)


async def test_a_guest_never_gets_a_promotion_limited_per_customer(sessions):
    promotion_id = await new_promotion(sessions, per_customer_limit=1)

    assert await reserve(sessions, promotion_id, uuid.uuid4(), None) is UseOutcome.CUSTOMER_LIMIT
    assert await counts(sessions, promotion_id) == (0, 0)


async def test_a_retried_reservation_of_one_order_counts_once(sessions):
    promotion_id = await new_promotion(sessions, usage_limit=1)
    order_id, user_id = uuid.uuid4(), uuid.uuid4()

    first = await reserve(sessions, promotion_id, order_id, user_id)
    again = await reserve(sessions, promotion_id, order_id, user_id)

    assert (first, again) == (UseOutcome.RESERVED, UseOutcome.RESERVED)
    assert await counts(sessions, promotion_id) == (1, 1)
    assert await reserve(sessions, promotion_id, uuid.uuid4(), user_id) is UseOutcome.USED_UP


async def test_a_released_use_is_given_back_once_and_can_be_taken_by_another_order(sessions):
    promotion_id = await new_promotion(sessions, usage_limit=1)
    order_id = uuid.uuid4()
    await reserve(sessions, promotion_id, order_id, uuid.uuid4())

    async def release() -> bool:
        async with sessions() as session, session.begin():
            return await promotion_repository.release_use(session, promotion_id, order_id)

    results = await asyncio.gather(release(), release(), release())

    assert sorted(results) == [False, False, True]
    assert await counts(sessions, promotion_id) == (0, 0)
    assert await reserve(sessions, promotion_id, uuid.uuid4(), uuid.uuid4()) is UseOutcome.RESERVED


async def test_releasing_an_order_gives_back_each_of_its_uses(sessions):
    first = await new_promotion(sessions)
    second = await new_promotion(sessions, code="SECOND")
    order_id = uuid.uuid4()
    await reserve(sessions, first, order_id, None)
    await reserve(sessions, second, order_id, None)

    async with sessions() as session, session.begin():
        released = await promotion_repository.release_order_uses(session, order_id)

    assert released == 2
    assert await counts(sessions, first) == (0, 0)
    assert await counts(sessions, second) == (0, 0)


async def test_reservations_churn_with_releases_never_pass_the_limit(sessions):
    promotion_id = await new_promotion(sessions, usage_limit=5)

    async def reserve_then_maybe_release(index: int) -> UseOutcome:
        order_id = uuid.uuid4()
        outcome = await reserve(sessions, promotion_id, order_id, uuid.uuid4())
        if outcome is UseOutcome.RESERVED and index % 2:
            async with sessions() as session, session.begin():
                await promotion_repository.release_use(session, promotion_id, order_id)
        return outcome

    await asyncio.gather(*(reserve_then_maybe_release(i) for i in range(60)))

    used, rows = await counts(sessions, promotion_id)
    assert used == rows <= 5


async def test_an_inactive_or_deleted_promotion_is_not_reserved(sessions):
    inactive = await new_promotion(sessions, active=False)

    assert await reserve(sessions, inactive, uuid.uuid4(), None) is UseOutcome.INACTIVE
    assert await reserve(sessions, uuid.uuid4(), uuid.uuid4(), None) is UseOutcome.UNKNOWN
