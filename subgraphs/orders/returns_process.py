"""What follows a return's receipt: give the money back (payments' `refundPaymentPartially`), put the units
back on hand (inventory's `restockReturn`), then REFUNDED and `ReturnRefunded`.

Persisted like the order saga (saga.py): a step is recorded STARTED (committed) before its peer is called and
DONE after its answer; each call carries the key `return:<id>:<step>`, so a retry or a recovered process never
refunds or restocks twice (payments and inventory answer a known key with what it did). The steps only move
forward and cannot fail for good (the units are back, the money is owed), so each is retried with backoff
until it succeeds, counted by a metric that alerting watches. A return is driven by the process holding its
lease (renewed while it works); the recovery worker of any replica takes over received returns whose lease
ran out and finishes them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.backoff import Backoff
from shared.context import Runtime
from shared.peers import PeerRefused, PeerUnavailable
from subgraphs.orders import repository
from subgraphs.orders import returns_repository as returns_sql
from subgraphs.orders.events import OrderEvent
from subgraphs.orders.leased_runs import LeasedRuns, LeaseLost
from subgraphs.orders.models import Return, ReturnStatus
from subgraphs.orders.peers import Peers
from subgraphs.orders.returns_events import emit
from subgraphs.orders.settings import OrdersSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")

REFUND, RESTOCK = "refund", "restock"
STARTED, DONE = "STARTED", "DONE"


def return_step_key(return_id: uuid.UUID | str, step: str) -> str:
    """The idempotency key of one step of one return: the same on every retry and after a crash."""
    return f"return:{return_id}:{step}"


def steps_of(row: Return) -> tuple[str, ...]:
    """The steps a received return goes through: no refund call when it refunds nothing."""
    return (REFUND, RESTOCK) if row.refund_total > 0 else (RESTOCK,)


class ReturnProcess:
    """Drives received returns for one process (`runtime.state.returns`)."""

    def __init__(self, runtime: Runtime, peers: Peers) -> None:
        settings = runtime.settings
        assert isinstance(settings, OrdersSettings)
        self.settings = settings
        self.sessionmaker = runtime.sessionmaker
        self.peers = peers
        self.backoff = Backoff(settings.retry_initial_seconds, settings.retry_max_seconds)
        registry = runtime.metrics.registry
        # Alert on this: the steps never give up, so a stuck refund shows here and nowhere else.
        self.step_retries = Counter(
            "myshop_return_step_retries_total",
            "Return process calls (refund, restock) retried, by step.",
            ["step"],
            registry=registry,
        )
        self.recovered = Counter(
            "myshop_return_recovered_total",
            "Received returns taken over from a dead process.",
            registry=registry,
        )
        self.runs = LeasedRuns(
            "return",
            self.sessionmaker,
            lease_seconds=settings.saga_lease_seconds,
            renew=returns_sql.renew_leases,
            claim_abandoned=returns_sql.claim_abandoned,
            drive=self._drive,
            recovered=self.recovered.inc,
        )
        self.owner = self.runs.owner

    # --- starting and waiting ---

    async def announce_first_step(self, session: AsyncSession, row: Return) -> None:
        """Record the first step STARTED in the receiving transaction (committed before the peer call)."""
        await returns_sql.record_step(session, row.id, steps_of(row)[0], STARTED, None, attempt=True)

    def start(self, return_id: uuid.UUID, *, announced: bool = False) -> asyncio.Task[None]:
        return self.runs.start(return_id, announced=announced)

    async def wait(self, return_id: uuid.UUID, seconds: float) -> None:
        """Until the process of the return ends here, or `seconds`."""
        await self.runs.wait_here(return_id, seconds)

    async def stop(self) -> None:
        await self.runs.stop()

    # --- the recovery worker ---

    async def recover_once(self, limit: int = 20) -> int:
        """Take over received returns whose lease ran out; returns how many were started here."""
        return await self.runs.recover_once(limit)

    # --- driving one return ---

    async def _drive(self, return_id: uuid.UUID, announced: bool) -> None:
        async with self.sessionmaker() as session:
            row = await returns_sql.get(session, return_id)
            if row is None or row.status != ReturnStatus.RECEIVED:
                return
            steps = {
                name: step.status for name, step in (await returns_sql.steps_of(session, return_id)).items()
            }
            lines = (await returns_sql.lines_of(session, [return_id]))[return_id]
            items = {
                item.line: item for item in (await repository.items_of(session, [row.order_id]))[row.order_id]
            }
        order_id, reason = str(row.order_id), f"return {return_id}"
        restocked = [(str(items[line.line].variant_id), line.quantity) for line in lines]

        async def refund() -> str:
            return await self.peers.refund_payment_partially(
                return_step_key(return_id, REFUND),
                order_id=order_id,
                amount=row.refund_total,
                currency=row.currency,
                reason=reason,
            )

        async def restock() -> str:
            key = return_step_key(return_id, RESTOCK)
            await self.peers.restock_return(key, order_id=order_id, lines=restocked, reason=reason)
            return "restocked"

        calls = {REFUND: refund, RESTOCK: restock}
        todo = [step for step in steps_of(row) if steps.get(step) != DONE]
        for index, step in enumerate(todo):
            if not announced:  # a recovered return: this call may be the step's second
                await self._record(return_id, step, STARTED, None, attempt=True)
            detail = await self._until_done(step, calls[step])
            following = todo[index + 1] if index + 1 < len(todo) else None
            await self._record(return_id, step, DONE, detail, attempt=False, announce=following)
            # The next step's STARTED went with this commit.
            announced = True
        await self._finish(return_id)

    async def _until_done(self, step: str, call: Callable[[], Awaitable[T]]) -> T:
        """A step's call, retried with backoff until it succeeds (never given up: money or stock is at stake).
        A refusal is logged as an error (someone must look: the metric shows it) and retried like the rest."""
        failures = 0
        while True:
            try:
                return await call()
            except (PeerUnavailable, PeerRefused) as error:
                failures += 1
                self.step_retries.labels(step).inc()
                log = logger.error if isinstance(error, PeerRefused) else logger.warning
                log("return step %s failed, retrying: %s", step, error)
                await asyncio.sleep(self.backoff.delay(failures))

    async def _finish(self, return_id: uuid.UUID) -> None:
        async with self.sessionmaker() as session, session.begin():
            row = await self._locked(session, return_id)
            if row.status != ReturnStatus.RECEIVED:
                return
            row = await returns_sql.update_return(
                session,
                return_id,
                {
                    "status": ReturnStatus.REFUNDED,
                    "refunded_at": datetime.now(UTC),
                    "lease_owner": None,
                    "lease_until": None,
                },
            )
            await emit(session, OrderEvent.RETURN_REFUNDED, row)
        logger.info("return %s refunded", return_id)

    # --- persistence helpers ---

    async def _record(
        self,
        return_id: uuid.UUID,
        step: str,
        status: str,
        detail: str | None,
        *,
        attempt: bool,
        announce: str | None = None,
    ) -> None:
        async with self.sessionmaker() as session, session.begin():
            await self._locked(session, return_id)
            await returns_sql.record_step(session, return_id, step, status, detail, attempt=attempt)
            if announce is not None:
                await returns_sql.record_step(session, return_id, announce, STARTED, None, attempt=True)

    async def _locked(self, session: AsyncSession, return_id: uuid.UUID) -> Return:
        row = await returns_sql.get(session, return_id, lock=True)
        if row is None:
            raise LookupError(f"no return {return_id}")
        if row.lease_owner != self.owner and row.status == ReturnStatus.RECEIVED:
            raise LeaseLost(str(return_id))
        return row
