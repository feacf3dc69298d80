"""The order saga: reserve stock, charge, confirm the reservation; on failure, compensate in reverse.

Progress is persisted step by step in the orders database: a step is recorded STARTED (committed) before its
peer is called and DONE after, each with a status change of the order in the same transaction. Every call
carries a key derived from (order, step), so a retry or a recovered saga never acts twice. A saga is driven by
the process holding its lease (renewed while it works); the recovery worker of any replica takes over sagas
whose lease ran out and finishes or compensates them. Compensation retries until it succeeds, counted by a
metric that alerting watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.backoff import Backoff
from shared.context import Runtime
from shared.db import create_sessionmaker
from shared.outbox import Event
from shared.peers import PeerRefused, PeerUnavailable
from subgraphs.orders import cart_repository, promotion_repository, repository
from subgraphs.orders.events import OrderEvent
from subgraphs.orders.leased_runs import LeasedRuns, LeaseLost
from subgraphs.orders.metrics import OrdersMetrics
from subgraphs.orders.models import FINAL_STATUSES, Order, OrderItem, OrderStatus, SagaState, outbox
from subgraphs.orders.order_price import order_summary
from subgraphs.orders.peers import Peers, StepAnswer
from subgraphs.orders.settings import OrdersSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")


RESERVE, CHARGE, CONFIRM = "reserve", "charge", "confirm"
REFUND, RELEASE = "refund", "release"
FORWARD_STEPS = (RESERVE, CHARGE, CONFIRM)
STARTED, DONE = "STARTED", "DONE"

# The status an order reaches when a forward step is done.
STATUS_AFTER = {
    RESERVE: OrderStatus.INVENTORY_RESERVED,
    CHARGE: OrderStatus.PAYMENT_AUTHORIZED,
    CONFIRM: OrderStatus.CONFIRMED,
}


def step_key(order_id: uuid.UUID | str, step: str) -> str:
    """The idempotency key of one step of one order: the same on every retry and after a crash."""
    return f"order:{order_id}:{step}"


@dataclass
class CreatedOrder:
    """An order this process just inserted, with its lines, as the insert returned them: its saga starts from
    them (nothing read back), and sets `confirmed` to the order as confirmed for the request waiting on it."""

    order: Order
    items: list[OrderItem]
    confirmed: Order | None = None


@dataclass
class StepFailure(Exception):
    """A forward step that cannot succeed: the saga compensates and ends in `status`."""

    status: OrderStatus
    code: str
    reason: str


class Saga:
    """Drives order sagas for one process (`runtime.state.saga`)."""

    def __init__(self, runtime: Runtime, metrics: OrdersMetrics) -> None:
        settings = runtime.settings
        assert isinstance(settings, OrdersSettings)
        self.settings = settings
        self.sessionmaker = runtime.sessionmaker
        # One-statement reads outside a transaction: no BEGIN and ROLLBACK round trips around them. Not
        # through PgBouncer in transaction mode: outside a transaction, asyncpg's parse and its execution of
        # one statement are two exchanges, which PgBouncer may give to two server connections.
        self.one_statement = (
            runtime.sessionmaker
            if settings.db_pgbouncer
            else create_sessionmaker(runtime.engine.execution_options(isolation_level="AUTOCOMMIT"))
        )
        # The same for the saga's hot statements (an order by key, a new order, a step's record: each atomic
        # alone), on a bare connection: no ORM session around one statement.
        self._engine = runtime.engine
        self._autocommit = runtime.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.peers = Peers(runtime)
        self.metrics = metrics
        # Retries of many sagas (a burst of orders against a peer that is down) spread out.
        self.backoff = Backoff(settings.retry_initial_seconds, settings.retry_max_seconds)
        self.runs = LeasedRuns(
            "saga",
            self.sessionmaker,
            lease_seconds=settings.saga_lease_seconds,
            renew=repository.renew_leases,
            claim_abandoned=repository.claim_abandoned,
            drive=self._timed_drive,
            recovered=metrics.sagas_recovered.inc,
        )
        self.owner = self.runs.owner
        # Orders inserted here whose saga is about to start (`start_created`), by id.
        self._created: dict[uuid.UUID, CreatedOrder] = {}

    # --- starting and waiting ---

    def start(self, order_id: uuid.UUID, *, announced: bool = False) -> asyncio.Task[None]:
        """Drive the saga in the background (a request that stops waiting does not stop it).

        `announced`: the next step's STARTED is already recorded (by the transaction that created the order).
        """
        return self.runs.start(order_id, announced=announced)

    def start_created(self, created: CreatedOrder) -> asyncio.Task[None]:
        """Drive the saga of an order this process inserted (its first step's STARTED committed with it)."""
        self._created[created.order.id] = created
        return self.start(created.order.id, announced=True)

    async def wait(self, order_id: uuid.UUID, seconds: float, created: CreatedOrder | None = None) -> None:
        """Until the saga ends, or `seconds`. Its run here is awaited; but a run can end here with the saga
        unfinished (its lease lapsed on a loaded machine and a recovery took it over, here or in another
        process), so the database says whether it ended, polled while the saga goes on elsewhere. Not asked
        when the run here confirmed the order it `created`: the statement that confirmed it ended the saga."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ran_here = await self.runs.wait_here(order_id, left)
            if created is not None and created.confirmed is not None:
                return
            async with self.one_statement() as session:
                order = await repository.get(session, order_id)
            if order is None or order.saga_state == SagaState.DONE:
                return
            if not ran_here:
                await asyncio.sleep(0.05)

    @contextlib.asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one statement that is atomic alone, run outside a transaction (one round trip);
        in a transaction of its own behind PgBouncer (see `one_statement`)."""
        if self.settings.db_pgbouncer:
            async with self._engine.begin() as connection:
                yield connection
        else:
            async with self._autocommit.connect() as connection:
                yield connection

    async def stop(self) -> None:
        await self.runs.stop()
        await self.peers.close()

    # --- the recovery worker ---

    async def recover_once(self, limit: int = 20) -> int:
        """Take over sagas whose lease ran out; returns how many were started here."""
        return await self.runs.recover_once(limit)

    # --- driving one saga ---

    async def _timed_drive(self, order_id: uuid.UUID, announced: bool) -> None:
        started = time.perf_counter()
        await self._drive(order_id, announced=announced)
        self.metrics.saga_duration.observe(time.perf_counter() - started)

    async def _drive(self, order_id: uuid.UUID, *, announced: bool) -> None:
        created = self._created.pop(order_id, None)
        if created is not None and announced:  # as inserted, its first step STARTED: nothing to read back
            order, steps, items = created.order, {RESERVE: STARTED}, created.items
        else:
            order, steps, items = await self._load(order_id)
        lines = [(str(item.variant_id), item.quantity) for item in items]
        if order.saga_state == SagaState.RUNNING:
            for step in FORWARD_STEPS:
                if steps.get(step) == DONE:
                    continue
                try:
                    order = await self._forward(order, step, lines, items, announced=announced)
                except StepFailure as failure:
                    await self._begin_compensation(order_id, failure)
                    order, steps, items = await self._load(order_id)
                    break
                if created is not None and order.status == OrderStatus.CONFIRMED:
                    created.confirmed = order
                # Each step's transaction records the next one STARTED.
                announced = True
            else:
                return
        if order.saga_state == SagaState.COMPENSATING:
            await self._compensate(order, steps)

    async def _load(self, order_id: uuid.UUID) -> tuple[Order, dict[str, str], list[OrderItem]]:
        """The order, the status of each of its steps, and its lines (stock is their variant's)."""
        async with self.sessionmaker() as session:
            order = await repository.get(session, order_id)
            if order is None:
                raise LookupError(f"no order {order_id}")
            steps = {name: row.status for name, row in (await repository.steps_of(session, order_id)).items()}
            items = (await repository.items_of(session, [order_id]))[order_id]
        return order, steps, items

    # --- forward steps ---

    async def _forward(
        self,
        order: Order,
        step: str,
        lines: list[tuple[str, int]],
        items: list[OrderItem],
        *,
        announced: bool,
    ) -> Order:
        """Call the step's peer and record it done: the order as it is then."""
        if not announced:  # a recovered saga: this call may be the step's second
            await self._record(order.id, step, STARTED, None, attempt=True)
        key = step_key(order.id, step)
        if step == RESERVE:
            answer = await self._retrying(step, lambda: self.peers.reserve_stock(key, str(order.id), lines))
            if answer.status != "RESERVED":
                raise StepFailure(
                    OrderStatus.FAILED, "RESERVATION_RELEASED", "The stock reservation was released."
                )
        elif step == CHARGE:
            answer = await self._retrying(
                step,
                lambda: self.peers.charge_payment(
                    key,
                    order_id=str(order.id),
                    user_id=str(order.user_id),
                    amount=order.total_amount,
                    currency=order.currency,
                    method=order.payment_method,
                ),
            )
            if answer.status == "DECLINED":
                raise StepFailure(
                    OrderStatus.CANCELLED, "PAYMENT_DECLINED", f"The payment was declined: {answer.reason}."
                )
            if answer.status != "CAPTURED":
                raise StepFailure(OrderStatus.FAILED, "PAYMENT_FAILED", f"The payment ended {answer.status}.")
        else:
            answer = await self._retrying(
                step, lambda: self.peers.confirm_reservation(step_key(order.id, RESERVE))
            )
            if answer.status != "CONFIRMED":
                raise StepFailure(
                    OrderStatus.FAILED, "RESERVATION_RELEASED", "The stock reservation expired."
                )
        return await self._advance(order, step, answer, items)

    async def _retrying(self, step: str, call: Callable[[], Awaitable[StepAnswer]]) -> StepAnswer:
        """A forward call, retried on transient failures until the step's deadline."""
        deadline = time.monotonic() + self.settings.step_deadline_seconds
        failures = 0
        while True:
            try:
                return await call()
            except PeerRefused as refused:
                if refused.code == "OUT_OF_STOCK":
                    raise StepFailure(
                        OrderStatus.CANCELLED, "OUT_OF_STOCK", "Not enough stock for this order."
                    ) from refused
                if refused.code == "NOT_SELLABLE":
                    # Inventory's own refusal of an archived variant (or one of an archived product),
                    # archived after the catalog read: like out of stock, the customer's order cannot be.
                    raise StepFailure(
                        OrderStatus.CANCELLED,
                        "NOT_SELLABLE",
                        "A product of this order is no longer sold.",
                    ) from refused
                raise StepFailure(
                    OrderStatus.FAILED, refused.code, f"{refused.peer}: {refused.message}"
                ) from refused
            except PeerUnavailable as unavailable:
                failures += 1
                delay = self.backoff.delay(failures)
                if time.monotonic() + delay > deadline:
                    raise StepFailure(
                        OrderStatus.FAILED,
                        "STEP_TIMEOUT",
                        f"{step} did not succeed in time ({unavailable.code}).",
                    ) from unavailable
                self.metrics.saga_step_retries.labels(step).inc()
                await asyncio.sleep(delay)

    async def _advance(self, order: Order, step: str, answer: StepAnswer, items: list[OrderItem]) -> Order:
        """Record a done step (and the next one STARTED), the order's new status, its history and events, in
        one statement: the order as updated (`order` itself when nothing was)."""
        status = STATUS_AFTER[step]
        done = status == OrderStatus.CONFIRMED
        steps = [(step, DONE, f"{answer.id} {answer.status}", False)]
        if not done:  # recorded before its peer is called, with this commit
            steps.append((FORWARD_STEPS[FORWARD_STEPS.index(step) + 1], STARTED, None, True))
        if done and order.cart_id is not None:
            updated = await self._confirm_checkout(order, steps, items)
        else:
            # The lock, the lease and the state checked, the status set and what goes with it written, in one
            # statement: atomic alone, so outside a transaction (one round trip, no BEGIN, no COMMIT). While
            # the saga runs under our lease nothing else changes the order's status: `order.status` is the
            # status it had.
            events = change_events(order, order.status, status, None, items)
            async with self.statement() as connection:
                updated = await repository.advance_recorded(
                    connection, order.id, self.owner, status=status, done=done, steps=steps, events=events
                )
        if updated is None:
            async with self.sessionmaker() as session, session.begin():
                await self._locked(session, order.id)  # LeaseLost when another process drives it now
            return order  # a cancellation got there first; it compensates what we did
        if done:
            self.metrics.saga_outcomes.labels(status).inc()
        return updated

    async def _confirm_checkout(
        self, order: Order, steps: list[tuple[str, str, str | None, bool]], items: list[OrderItem]
    ) -> Order | None:
        """The confirmation of a checkout's order: `_advance`'s writes and its cart's end, in one transaction
        (the customer's next `cart` is a new one)."""
        values = {"status": OrderStatus.CONFIRMED, "saga_state": SagaState.DONE}
        values.update(lease_owner=None, lease_until=None)
        async with self.sessionmaker() as session, session.begin():
            updated = await repository.advance_running(session, order.id, self.owner, values)
            if updated is None:
                return None
            await repository.record_steps(session, order.id, steps)
            await cart_repository.end_checkout(session, order.id, completed=True)
            await record_change(session, updated, order.status, OrderStatus.CONFIRMED, None, items)
        return updated

    # --- compensation ---

    async def _begin_compensation(self, order_id: uuid.UUID, failure: StepFailure) -> None:
        async with self.sessionmaker() as session, session.begin():
            order = await self._locked(session, order_id)
            if order.saga_state != SagaState.RUNNING:
                return
            await repository.update_order(
                session,
                order_id,
                {
                    "saga_state": SagaState.COMPENSATING,
                    "final_status": failure.status,
                    "failure_code": failure.code,
                    "failure_reason": failure.reason,
                },
            )
        logger.info("order %s: compensating (%s)", order_id, failure.code)

    async def _compensate(self, order: Order, steps: dict[str, str]) -> None:
        reason = order.failure_reason or "order not completed"
        # Reverse order: the money back first, then the stock (a confirmed reservation is restocked).
        if CHARGE in steps and steps.get(REFUND) != DONE:
            answer = await self._until_done(
                REFUND, lambda: self.peers.refund_payment(step_key(order.id, CHARGE), reason)
            )
            await self._record(order.id, REFUND, DONE, f"{answer.id} {answer.status}", attempt=False)
        if RESERVE in steps and steps.get(RELEASE) != DONE:
            answer = await self._until_done(
                RELEASE, lambda: self.peers.release_reservation(step_key(order.id, RESERVE), reason)
            )
            await self._record(order.id, RELEASE, DONE, f"{answer.id} {answer.status}", attempt=False)
        final = OrderStatus(order.final_status or OrderStatus.FAILED)
        async with self.sessionmaker() as session, session.begin():
            locked = await self._locked(session, order.id)
            if locked.saga_state != SagaState.COMPENSATING:
                return
            values = {"status": final, "saga_state": SagaState.DONE, "lease_owner": None, "lease_until": None}
            # Its voucher and promotion uses back (a failed checkout, a cancelled order), and its cart
            # unlocked if it never completed: the customer fixes it and checks out again.
            # The cart's row before the promotions', the order checkout locks them in.
            await cart_repository.end_checkout(session, order.id, completed=False)
            await promotion_repository.release_order_uses(session, order.id)
            await change_status(session, locked, final, locked.failure_reason, values)
        self.metrics.saga_outcomes.labels(final).inc()

    async def _until_done(self, step: str, call: Callable[[], Awaitable[T]]) -> T:
        """A compensation call, retried until it succeeds (never given up: money or stock is at stake)."""
        failures = 0
        while True:
            try:
                return await call()
            except (PeerUnavailable, PeerRefused) as error:
                failures += 1
                self.metrics.saga_compensation_retries.labels(step).inc()
                log = logger.error if isinstance(error, PeerRefused) else logger.warning
                log("compensation %s failed, retrying: %s", step, error)
                await asyncio.sleep(self.backoff.delay(failures))

    # --- persistence helpers ---

    async def _record(
        self, order_id: uuid.UUID, step: str, status: str, detail: str | None, *, attempt: bool
    ) -> None:
        async with self.sessionmaker() as session, session.begin():
            await self._locked(session, order_id)
            await repository.record_step(session, order_id, step, status, detail, attempt=attempt)

    async def _locked(self, session: AsyncSession, order_id: uuid.UUID) -> Order:
        order = await repository.get(session, order_id, lock=True)
        if order is None:
            raise LookupError(f"no order {order_id}")
        if order.lease_owner != self.owner and order.saga_state != SagaState.DONE:
            raise LeaseLost(str(order_id))
        return order


async def change_status(
    session: AsyncSession, order: Order, status: OrderStatus, reason: str | None, values: dict[str, Any]
) -> None:
    """Set an order's status (with `values`), append the history, emit the events: one transaction."""
    await repository.update_order(session, order.id, values)
    await record_change(session, order, order.status, status, reason)


async def record_change(
    session: AsyncSession,
    order: Order,
    previous: str,
    status: OrderStatus,
    reason: str | None,
    items: list[OrderItem] | None = None,
) -> None:
    """The history and the events of an order's status change from `previous` to `status` (its `items`
    read when not given), in the transaction that made it."""
    await repository.add_history(session, order.id, status, reason)
    if items is None and status in (OrderStatus.CONFIRMED, OrderStatus.CANCELLED):
        items = (await repository.items_of(session, [order.id]))[order.id]
    for event in change_events(order, previous, status, reason, items or []):
        await outbox.write(session, event)


def change_events(
    order: Order, previous: str, status: OrderStatus, reason: str | None, items: list[OrderItem]
) -> list[Event]:
    """The events of an order's status change from `previous` to `status`, in the order they are written:
    OrderStatusChanged, then OrderConfirmed or OrderCancelled (with the order's `items`) when it is one."""
    assert status in FINAL_STATUSES or status in STATUS_AFTER.values()
    base = {"orderId": order.id, "userId": order.user_id}
    changed = {**base, "status": status, "previousStatus": previous, "reason": reason}
    events = [outbox.event(OrderEvent.ORDER_STATUS_CHANGED, changed, aggregate_id=order.id)]
    if status in (OrderStatus.CONFIRMED, OrderStatus.CANCELLED):
        summary = {**base, **order_summary(order, items)}
        if status == OrderStatus.CONFIRMED:
            events.append(outbox.event(OrderEvent.ORDER_CONFIRMED, summary, aggregate_id=order.id))
        else:
            cancelled = {**summary, "code": order.failure_code, "reason": reason}
            events.append(outbox.event(OrderEvent.ORDER_CANCELLED, cancelled, aggregate_id=order.id))
    return events
