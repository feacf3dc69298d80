"""The recovery worker's claim: replicas taking over abandoned sagas at once never take the same one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import pool, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from myshop.testing import scratch_database
from subgraphs.orders import repository
from subgraphs.orders.models import Order, SagaState
from subgraphs.orders.settings import OrdersSettings


async def test_concurrent_replicas_claim_each_abandoned_saga_exactly_once() -> None:
    # A database of its own: the stack's orders server runs a recovery worker of its own.
    async with scratch_database("orders", OrdersSettings().postgres_url) as url:
        await claim_from_four_replicas(url)


async def claim_from_four_replicas(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    expired = datetime.now(UTC) - timedelta(minutes=1)
    try:
        # Given 30 unfinished sagas whose process died (lease expired), and 5 still leased to a live process
        async with sessions.begin() as session:
            for index in range(35):
                session.add(
                    Order(
                        user_id=uuid.uuid4(),
                        idempotency_key=f"abandoned-{index}",
                        request_hash="0" * 64,
                        currency="USD",
                        total_amount=100,
                        payment_method="tok_approve",
                        saga_state=SagaState.RUNNING,
                        lease_owner="dead" if index < 30 else "alive",
                        lease_until=expired if index < 30 else datetime.now(UTC) + timedelta(minutes=5),
                    )
                )

        # When 4 replicas claim at once, in batches of 4, until nothing is left
        async def replica(owner: str) -> list[uuid.UUID]:
            claimed: list[uuid.UUID] = []
            while True:
                async with sessions.begin() as session:
                    batch = await repository.claim_abandoned(session, owner, 60, limit=4)
                if not batch:
                    return claimed
                claimed += batch
                await asyncio.sleep(0)

        claims = await asyncio.gather(*(replica(f"replica-{n}") for n in range(4)))

        # Then every abandoned saga was taken exactly once, by the replica now holding its lease
        every = [order_id for claimed in claims for order_id in claimed]
        assert len(every) == len(set(every)) == 30
        async with sessions() as session:
            owners = dict((await session.execute(select(Order.id, Order.lease_owner))).all())
        for n, claimed in enumerate(claims):
            assert all(owners[order_id] == f"replica-{n}" for order_id in claimed)
        assert sum(owner == "alive" for owner in owners.values()) == 5
    finally:
        await engine.dispose()
