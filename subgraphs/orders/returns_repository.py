"""SQL for the returns tables (returns, return_lines, return_steps) and the delivered units they are checked
against (order_shipments), nothing else: every function takes the session of the transaction it runs in."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import interval_seconds
from subgraphs.orders.models import OrderShipment, Return, ReturnLine, ReturnStatus, ReturnStep

DELIVERED = "DELIVERED"


@dataclass(frozen=True, slots=True)
class Delivery:
    """Units of one order line delivered in one shipment, and when."""

    line: int
    quantity: int
    delivered_at: datetime


async def insert_return(session: AsyncSession, values: dict[str, Any]) -> Return | None:
    """The new return, or None when the order already has one with this idempotency key."""
    statement = (
        insert(Return)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["order_id", "idempotency_key"])
        .returning(Return)
    )
    return (await session.scalars(statement)).one_or_none()


async def insert_lines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(insert(ReturnLine).values(rows))


async def set_line_figures(session: AsyncSession, return_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """Overwrite the refund figures of a return's lines (when it is received and its refund fixed)."""
    for row in rows:
        await session.execute(
            update(ReturnLine)
            .where(ReturnLine.return_id == return_id, ReturnLine.line == row["line"])
            .values(subtotal=row["subtotal"], discount=row["discount"], tax=row["tax"], refund=row["refund"])
        )


async def get(session: AsyncSession, return_id: uuid.UUID, *, lock: bool = False) -> Return | None:
    statement = select(Return).where(Return.id == return_id).execution_options(populate_existing=True)
    if lock:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Return]:
    if not ids:
        return []
    return list((await session.scalars(select(Return).where(Return.id.in_(ids)))).all())


async def get_by_key(session: AsyncSession, order_id: uuid.UUID, key: str) -> Return | None:
    statement = select(Return).where(Return.order_id == order_id, Return.idempotency_key == key)
    return (await session.scalars(statement.execution_options(populate_existing=True))).one_or_none()


async def update_return(session: AsyncSession, return_id: uuid.UUID, values: dict[str, Any]) -> Return:
    statement = (
        update(Return)
        .where(Return.id == return_id)
        .values(**values, updated_at=func.now())
        .returning(Return)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    return (await session.scalars(statement)).one()


async def lines_of(
    session: AsyncSession, return_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ReturnLine]]:
    found: dict[uuid.UUID, list[ReturnLine]] = {return_id: [] for return_id in return_ids}
    if return_ids:
        statement = (
            select(ReturnLine)
            .where(ReturnLine.return_id.in_(return_ids))
            .order_by(ReturnLine.return_id, ReturnLine.line)
            .execution_options(populate_existing=True)
        )
        for row in await session.scalars(statement):
            found[row.return_id].append(row)
    return found


async def returns_of_orders(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Return]]:
    """Each order's returns, oldest first."""
    found: dict[uuid.UUID, list[Return]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        statement = (
            select(Return).where(Return.order_id.in_(order_ids)).order_by(Return.created_at, Return.id)
        )
        for row in await session.scalars(statement):
            found[row.order_id].append(row)
    return found


async def units_in_returns(
    session: AsyncSession,
    order_id: uuid.UUID,
    statuses: Collection[str],
    *,
    excluding: uuid.UUID | None = None,
) -> dict[int, int]:
    """{order line: units} in the order's returns of `statuses` (but `excluding`)."""
    statement = (
        select(ReturnLine.line, func.sum(ReturnLine.quantity))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.order_id == order_id, Return.status.in_(list(statuses)))
        .group_by(ReturnLine.line)
    )
    if excluding is not None:
        statement = statement.where(Return.id != excluding)
    return {int(line): int(units) for line, units in (await session.execute(statement)).all()}


async def deliveries(session: AsyncSession, order_id: uuid.UUID) -> list[Delivery]:
    """The order's delivered units, one row per (DELIVERED shipment, line), oldest delivery first."""
    statement = (
        select(OrderShipment.lines, OrderShipment.delivered_at, OrderShipment.event_at)
        .where(OrderShipment.order_id == order_id, OrderShipment.status == DELIVERED)
        .order_by(
            func.coalesce(OrderShipment.delivered_at, OrderShipment.event_at), OrderShipment.shipment_id
        )
    )
    found: list[Delivery] = []
    for lines, delivered_at, event_at in (await session.execute(statement)).all():
        for entry in lines or []:
            found.append(Delivery(int(entry["line"]), int(entry["quantity"]), delivered_at or event_at))
    return found


async def newest_page(
    session: AsyncSession, *, status: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Return]:
    statement = select(Return)
    if status is not None:
        statement = statement.where(Return.status == status)
    if after is not None:
        statement = statement.where(tuple_(Return.created_at, Return.id) < tuple_(*after))
    statement = statement.order_by(Return.created_at.desc(), Return.id.desc()).limit(limit)
    return list((await session.scalars(statement)).all())


# --- the process's steps and leases ---


async def steps_of(session: AsyncSession, return_id: uuid.UUID) -> dict[str, ReturnStep]:
    rows = await session.scalars(
        select(ReturnStep).where(ReturnStep.return_id == return_id).execution_options(populate_existing=True)
    )
    return {row.step: row for row in rows}


async def record_step(
    session: AsyncSession, return_id: uuid.UUID, step: str, status: str, detail: str | None, *, attempt: bool
) -> None:
    statement = insert(ReturnStep).values(
        return_id=return_id, step=step, status=status, detail=detail, attempts=int(attempt)
    )
    statement = statement.on_conflict_do_update(
        index_elements=["return_id", "step"],
        set_={
            "status": statement.excluded.status,
            "detail": statement.excluded.detail,
            "attempts": ReturnStep.attempts + statement.excluded.attempts,
            "updated_at": func.now(),
        },
    )
    await session.execute(statement)


def _lease(seconds: float) -> Any:
    return func.now() + interval_seconds(seconds)


async def renew_leases(
    session: AsyncSession, return_ids: list[uuid.UUID], owner: str, seconds: float
) -> set[uuid.UUID]:
    """The received returns of `return_ids` still leased to `owner`, their leases extended; one whose row its
    run holds right now is skipped (SKIP LOCKED), and renewed the next time."""
    ours = (
        select(Return.id)
        .where(Return.id.in_(return_ids), Return.lease_owner == owner, Return.status == ReturnStatus.RECEIVED)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(Return)
        .where(Return.id.in_(ours))
        .values(lease_until=_lease(seconds))
        .returning(Return.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def claim_abandoned(session: AsyncSession, owner: str, seconds: float, limit: int) -> list[uuid.UUID]:
    """Received returns whose process's lease ran out (it died), now leased to `owner`; replicas skip each
    other's rows (SKIP LOCKED), so one return is never taken over twice."""
    candidates = (
        select(Return.id)
        .where(
            Return.status == ReturnStatus.RECEIVED,
            or_(Return.lease_until.is_(None), Return.lease_until < func.now()),
        )
        .order_by(Return.lease_until.nulls_first())
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(candidates)).all())
    if ids:
        await session.execute(
            update(Return).where(Return.id.in_(ids)).values(lease_owner=owner, lease_until=_lease(seconds))
        )
    return ids
