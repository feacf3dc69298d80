"""SQL for the payments and refunds tables, nothing else: rules live in service.py."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import any_, bindparam, case, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import TextualSelect

from shared.db import EntityRecords, PreparedRead, any_of
from shared.outbox import Event, events_json, insert_events_sql
from subgraphs.payments.models import Payment, PaymentStatus, Refund

_PAYMENT_COLUMNS = tuple(Payment.__table__.c)
_PAYMENT_KEYS = tuple(column.key for column in _PAYMENT_COLUMNS)
_PAYMENT_NAMES = ", ".join(column.name for column in _PAYMENT_COLUMNS)

# Statuses of a charge that took money (some of which may have been given back since).
_MOVED_MONEY = [PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED]
# An order's charge that moved money sorts before the others (an array bound, not an expanded IN list: the
# statement runs on the driver, `PreparedRead`).
_MOVED_MONEY_FIRST = case(
    (
        any_of(Payment.status, "moved_money", [str(status) for status in _MOVED_MONEY]),
        0,
    ),
    else_=1,
)


# The read paths' payments (DataLoaders): records, not entities (shared.db.EntityRecords), each statement kept
# compiled and run on the driver in a query's session (shared.db.PreparedRead).
PAYMENTS = EntityRecords(Payment)
_BY_IDS = PreparedRead(PAYMENTS.select().where(any_of(Payment.id, "ids")))
_CHARGES_OF_ORDERS = PreparedRead(
    PAYMENTS.select()
    .where(any_of(Payment.order_id, "order_ids"))
    .ext(distinct_on(Payment.order_id))
    .order_by(Payment.order_id, _MOVED_MONEY_FIRST, Payment.created_at.desc(), Payment.id.desc())
)


async def insert_if_new_key(session: AsyncSession, values: Mapping[str, Any]) -> Payment | None:
    """INSERT ... ON CONFLICT (key) DO NOTHING: the new row, or None when the key exists.

    While another transaction holds an uncommitted row with this key, this waits for it to end: None once it
    commits, the new row if it rolled back. That wait is what serializes calls with one key.
    """
    table = Payment.__table__
    statement = (
        pg_insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[table.c.key])
        .returning(*_PAYMENT_COLUMNS)
    )
    row = (await session.execute(statement)).first()
    return _payment(row) if row is not None else None


def _payment(row: Sequence[Any]) -> Payment:
    """A payment from a row of `_PAYMENT_COLUMNS` (a statement's own RETURNING: no ORM load)."""
    return Payment(**dict(zip(_PAYMENT_KEYS, row, strict=True)))


async def get_by_key(session: AsyncSession, key: str, *, for_update: bool = False) -> Payment | None:
    statement = select(Payment).where(Payment.key == key).execution_options(populate_existing=True)
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Any]:
    """Every payment among `ids`, in one statement, as records (read only: `PAYMENTS`)."""
    if not ids:
        return []
    return PAYMENTS.of(await _BY_IDS.rows(session, {"ids": list(ids)}))


async def charges_of_orders(session: AsyncSession, order_ids: Sequence[uuid.UUID]) -> list[Any]:
    """The charge of each order among `order_ids` that has one, in one statement.

    An order normally has one payment (one charge key). Should it have several, the one that moved money
    (CAPTURED or REFUNDED) wins, then the newest. Records (read only: `PAYMENTS`).
    """
    if not order_ids:
        return []
    return PAYMENTS.of(await _CHARGES_OF_ORDERS.rows(session, {"order_ids": list(order_ids)}))


async def charge_of_order_for_update(session: AsyncSession, order_id: uuid.UUID) -> Payment | None:
    """The order's charge (as `charges_of_orders` picks it), its row locked until the transaction ends."""
    chosen = (
        select(Payment.id)
        .where(Payment.order_id == order_id)
        .order_by(_MOVED_MONEY_FIRST, Payment.created_at.desc(), Payment.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        select(Payment)
        .where(Payment.id == chosen)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one_or_none()


async def insert_refund_if_new_key(session: AsyncSession, values: Mapping[str, Any]) -> Refund | None:
    """INSERT ... ON CONFLICT (key) DO NOTHING: the new refund, or None when the key exists (waiting, like
    `insert_if_new_key`, for a transaction that holds an uncommitted refund with this key)."""
    statement = (
        pg_insert(Refund)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Refund.key])
        .returning(Refund)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one_or_none()


async def get_refund_by_key(session: AsyncSession, key: str) -> Refund | None:
    statement = select(Refund).where(Refund.key == key).execution_options(populate_existing=True)
    return (await session.scalars(statement)).one_or_none()


async def refunds_of_payments(session: AsyncSession, payment_ids: Sequence[uuid.UUID]) -> list[Refund]:
    """Every refund of the payments among `payment_ids`, oldest first, in one statement."""
    if not payment_ids:
        return []
    statement = (
        select(Refund)
        .where(
            Refund.payment_id
            == any_(bindparam("payment_ids", list(payment_ids), type_=ARRAY(Refund.payment_id.type)))
        )
        .order_by(Refund.created_at, Refund.id)
    )
    return list((await session.scalars(statement)).all())


async def update(
    session: AsyncSession, payment_id: uuid.UUID, values: Mapping[str, Any], *, only_if: Any = None
) -> Payment | None:
    """Set `values` on one payment (when `only_if` holds, if given); the updated row, or None."""
    statement = sql_update(Payment).where(Payment.id == payment_id)
    if only_if is not None:
        statement = statement.where(only_if)
    statement = (
        statement.values(**values)
        .returning(Payment)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    return (await session.scalars(statement)).one_or_none()


@lru_cache(maxsize=8)
def _settling(keys: tuple[str, ...]) -> TextualSelect:
    columns = Payment.__table__.c
    sets = ", ".join(f"{columns[key].name} = :{key}" for key in keys)
    sql = f"""
WITH settled AS (UPDATE payments SET {sets} WHERE id = :payment_id RETURNING {_PAYMENT_NAMES}),
events AS ({insert_events_sql("events", "settled")})
SELECT {_PAYMENT_NAMES} FROM settled"""
    typed = [bindparam(key, type_=columns[key].type) for key in keys]
    return text(sql).bindparams(*typed).columns(*_PAYMENT_COLUMNS)


async def settle(
    session: AsyncSession, payment_id: uuid.UUID, values: Mapping[str, Any], events: list[Event]
) -> Payment | None:
    """`update` of one payment and the events that report it, in one statement (one round trip): the updated
    row, or None (nothing written)."""
    params = {**values, "payment_id": payment_id, "events": events_json(events)}
    row = (await session.execute(_settling(tuple(values)), params)).first()
    return _payment(row) if row is not None else None
