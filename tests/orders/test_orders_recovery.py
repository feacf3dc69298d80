"""The recovery worker's claim: replicas taking over abandoned sagas at once never take the same one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, pool, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from myshop.testing import scratch_database
from subgraphs.orders import repository
from subgraphs.orders.leased_runs import LeasedRuns
from subgraphs.orders.models import Order, SagaState
from subgraphs.orders.settings import OrdersSettings


def running_order(key: str, *, lease_owner: str, lease_until: datetime) -> Order:
    """An order whose saga runs, leased to `lease_owner` until `lease_until`."""
    return Order(
        user_id=uuid.uuid4(),
        idempotency_key=key,
        request_hash="0" * 64,
        currency="USD",
        total_amount=100,
        payment_method="tok_approve",
        saga_state=SagaState.RUNNING,
        lease_owner=lease_owner,
        lease_until=lease_until,
    )


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
                    running_order(
                        f"abandoned-{index}",
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


async def test_the_runs_of_a_process_keep_their_leases_with_one_statement_a_round_skipping_a_held_row() -> (
    None
):
    async with scratch_database("orders", OrdersSettings().postgres_url) as url:
        await renew_while_running(url)


RENEWAL = "UPDATE ORDERS SET LEASE_UNTIL"


async def renew_while_running(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    release = asyncio.Event()
    rounds: list[list[uuid.UUID]] = []
    third_round = asyncio.Event()
    renewals: list[int] = []

    async def renew(
        session: AsyncSession, ids: list[uuid.UUID], owner: str, seconds: float
    ) -> set[uuid.UUID]:
        sent = len(statements)
        renewed = await repository.renew_leases(session, ids, owner, seconds)
        # The renewals this round sent (a round's own count: the test reads while the next may be under way)
        renewals.append(sum(1 for s in statements[sent:] if s.lstrip().upper().startswith(RENEWAL)))
        rounds.append(ids)
        if len(rounds) >= 3:
            third_round.set()
        return renewed

    runs = LeasedRuns(
        "saga",
        sessions,
        lease_seconds=0.6,
        renew=renew,
        claim_abandoned=repository.claim_abandoned,
        drive=lambda run_id, announced: release.wait(),
    )
    try:
        # Given five running sagas of this process, a sixth leased to another one, each with a short lease
        soon = datetime.now(UTC) + timedelta(seconds=0.6)
        async with sessions.begin() as session:
            orders = [
                running_order(
                    f"running-{index}", lease_owner=runs.owner if index < 5 else "another", lease_until=soon
                )
                for index in range(6)
            ]
            session.add_all(orders)
        ids = [order.id for order in orders]
        for run_id in ids[:5]:
            runs.start(run_id)
        # and a step of the first holding its row the whole time
        async with sessions.begin() as holder:
            await holder.execute(select(Order.id).where(Order.id == ids[0]).with_for_update())
            rounds.clear()
            renewals.clear()
            third_round.clear()

            # When they run past their first leases, through rounds of renewal (one every 0.2 s)
            await asyncio.sleep(1.0)
            await asyncio.wait_for(third_round.wait(), 30)

            # Then each round renewed every lease but the held row's in one statement, without waiting for it
            assert renewals[:3] == [1, 1, 1], statements
            assert all(sorted(ids) == sorted(ids[:5]) for ids in rounds), rounds
            async with sessions() as session:
                until = dict((await session.execute(select(Order.id, Order.lease_until))).all())
            now = datetime.now(UTC)
            assert all(until[run_id] > now for run_id in ids[1:5])
            # the held row was not renewed (nor waited for), nor the other process's saga
            assert until[ids[0]] == until[ids[5]] == soon
            assert until[ids[5]] < now
    finally:
        release.set()
        await runs.stop()
        await engine.dispose()
