"""SQL for the orders tables, nothing else: every function takes the session of the transaction it runs in
(the saga's one-statement writes and reads: a session or a bare connection, `Saga.statement`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import orjson
from sqlalchemy import BigInteger, and_, bindparam, func, or_, select, text, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.selectable import TextualSelect

from shared.db import EntityRecords, PreparedRead, any_of, interval_seconds
from shared.outbox import Event, events_json, insert_events_sql
from subgraphs.orders.models import Order, OrderItem, OrderStatusChange, SagaState, SagaStep

_ORDER_COLUMNS = tuple(Order.__table__.c)
_ORDER_KEYS = tuple(column.key for column in _ORDER_COLUMNS)
_ORDER_NAMES = ", ".join(column.name for column in _ORDER_COLUMNS)
_ITEM_COLUMNS = tuple(column for column in OrderItem.__table__.c if column.name != "order_id")
_ITEM_NAMES = ", ".join(column.name for column in _ITEM_COLUMNS)
# The record type of the lines' JSON (`jsonb_to_recordset`): each column with its own type.
_ITEM_RECORD = ", ".join(
    f"{column.name} {column.type.compile(dialect=postgresql.dialect())}" for column in _ITEM_COLUMNS
)


# The read paths' orders and lines (pages, DataLoaders): records, not entities (shared.db.EntityRecords), each
# statement kept compiled and run on the driver in a query's session (shared.db.PreparedRead).
ORDERS = EntityRecords(Order)
ITEMS = EntityRecords(OrderItem)
_BY_IDS = PreparedRead(ORDERS.select().where(any_of(Order.id, "order_ids")))
_ITEMS_OF = PreparedRead(
    ITEMS.select().where(any_of(OrderItem.order_id, "order_ids")).order_by(OrderItem.line)
)


def _order(row: Sequence[Any]) -> Order:
    """An order from a row of `_ORDER_COLUMNS` (a statement's own RETURNING, no ORM load)."""
    return Order(**dict(zip(_ORDER_KEYS, row, strict=True)))


# --- orders ---


async def insert_order(session: AsyncSession, values: dict[str, Any]) -> Order | None:
    """The new order, or None when this user already has one with this idempotency key."""
    statement = (
        insert(Order)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["user_id", "idempotency_key"])
        .returning(Order)
    )
    return (await session.scalars(statement)).one_or_none()


async def insert_items(session: AsyncSession, items: list[dict[str, Any]]) -> list[OrderItem]:
    """An order's lines, as inserted (in line order); a line without `variant_id` is of a product sold as one
    thing, whose one variant shares its id."""
    rows = [{"variant_id": item["product_id"], **item} for item in items]
    inserted = await session.scalars(insert(OrderItem).values(rows).returning(OrderItem))
    return sorted(inserted, key=lambda item: item.line)


@lru_cache(maxsize=16)
def _placing(keys: tuple[str, ...]) -> TextualSelect:
    """The statement of `insert_placed` for orders given these columns (placeOrder's, checkout's)."""
    names = ", ".join(Order.__table__.c[key].name for key in keys)
    values = ", ".join(f":{key}" for key in keys)
    sql = f"""
WITH placed AS (
  INSERT INTO orders (id, {names}) VALUES (:id, {values})
  ON CONFLICT (user_id, idempotency_key) DO NOTHING
  RETURNING {_ORDER_NAMES}
), lines AS (
  INSERT INTO order_items (order_id, {_ITEM_NAMES})
  SELECT placed.id, {", ".join(f"r.{column.name}" for column in _ITEM_COLUMNS)}
  FROM placed, jsonb_to_recordset(CAST(:items AS jsonb)) AS r({_ITEM_RECORD})
), history AS (
  INSERT INTO order_status_history (order_id, status) SELECT id, status FROM placed
), steps AS (
  INSERT INTO saga_steps (order_id, step, status, attempts) SELECT id, :step, :step_status, 1 FROM placed
), events AS ({insert_events_sql("events", "placed")})
SELECT {_ORDER_NAMES} FROM placed"""
    typed = [bindparam(key, type_=Order.__table__.c[key].type) for key in keys]
    return text(sql).bindparams(*typed).columns(*_ORDER_COLUMNS)


async def insert_placed(
    session: AsyncSession | AsyncConnection,
    order: Order,
    values: dict[str, Any],
    items: list[OrderItem],
    first_step: tuple[str, str],
    events: list[Event],
) -> Order | None:
    """Insert `order` (its columns `values`, its id chosen) with its lines, its first history row, its first
    saga step (attempted once) and its events, in one statement (one round trip, atomic alone): the order as
    inserted, or None (nothing written) when this user already has an order with this idempotency key."""
    rows = [{key: getattr(item, key) for key in OrderItem.__table__.c.keys()} for item in items]
    params = {
        **values,
        "id": order.id,
        "items": orjson.dumps(rows).decode(),
        "step": first_step[0],
        "step_status": first_step[1],
        "events": events_json(events),
    }
    row = (await session.execute(_placing(tuple(values)), params)).first()
    return _order(row) if row is not None else None


async def get_by_key(session: AsyncSession | AsyncConnection, user_id: uuid.UUID, key: str) -> Order | None:
    row = (await session.execute(_BY_KEY, {"user_id": user_id, "key": key})).first()
    return _order(row) if row is not None else None


# Asked before every placeOrder: a plain row (no ORM load), the statement built once.
_BY_KEY = select(*_ORDER_COLUMNS).where(
    Order.__table__.c.user_id == bindparam("user_id"), Order.__table__.c.idempotency_key == bindparam("key")
)


async def get(session: AsyncSession, order_id: uuid.UUID, *, lock: bool = False) -> Order | None:
    statement = select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    if lock:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Any]:
    """Orders by id, as records (read only: `ORDERS`)."""
    if not ids:
        return []
    return ORDERS.of(await _BY_IDS.rows(session, {"order_ids": list(ids)}))


async def update_order(session: AsyncSession, order_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(update(Order).where(Order.id == order_id).values(**values, updated_at=func.now()))


async def advance_running(
    session: AsyncSession, order_id: uuid.UUID, owner: str, values: dict[str, Any]
) -> Order | None:
    """Update a RUNNING order whose saga `owner` leases, locking its row, and return it as updated: the lock,
    the checks and the change in one statement. None (nothing changed) when it is not RUNNING or not leased
    to `owner` (any more)."""
    statement = (
        update(Order)
        .where(Order.id == order_id, Order.saga_state == SagaState.RUNNING, Order.lease_owner == owner)
        .values(**values, updated_at=func.now())
        .returning(Order)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one_or_none()


_ADVANCE = text(f"""
WITH advanced AS (
  UPDATE orders SET status = :status, saga_state = :saga_state,
    lease_owner = CASE WHEN CAST(:done AS boolean) THEN NULL ELSE lease_owner END,
    lease_until = CASE WHEN CAST(:done AS boolean) THEN NULL ELSE lease_until END,
    updated_at = now()
  WHERE id = :order_id AND saga_state = '{SagaState.RUNNING.value}' AND lease_owner = :owner
  RETURNING {_ORDER_NAMES}
), steps AS (
  INSERT INTO saga_steps (order_id, step, status, detail, attempts)
  SELECT advanced.id, s.step, s.status, s.detail, s.attempts
  FROM advanced, unnest(
    CAST(:step_names AS varchar[]), CAST(:step_statuses AS varchar[]), CAST(:step_details AS text[]),
    CAST(:step_attempts AS integer[])
  ) AS s(step, status, detail, attempts)
  ON CONFLICT (order_id, step) DO UPDATE SET status = excluded.status, detail = excluded.detail,
    attempts = saga_steps.attempts + excluded.attempts, updated_at = now()
), history AS (
  INSERT INTO order_status_history (order_id, status) SELECT id, status FROM advanced
), events AS ({insert_events_sql("events", "advanced")})
SELECT {_ORDER_NAMES} FROM advanced""").columns(*_ORDER_COLUMNS)


async def advance_recorded(
    session: AsyncSession | AsyncConnection,
    order_id: uuid.UUID,
    owner: str,
    *,
    status: str,
    done: bool,
    steps: Sequence[tuple[str, str, str | None, bool]],
    events: list[Event],
) -> Order | None:
    """`advance_running` (the order's new `status`; `done`: its saga ended, its lease released) with what
    goes with it, in one statement (one round trip, atomic alone): the (step, status, detail, attempt)
    of `steps` (`record_steps`), the history row and `events`. None, and nothing written, when the order is
    not RUNNING or not leased to `owner` (any more)."""
    params = {
        "order_id": order_id,
        "owner": owner,
        "status": status,
        "saga_state": SagaState.DONE if done else SagaState.RUNNING,
        "done": done,
        "step_names": [step[0] for step in steps],
        "step_statuses": [step[1] for step in steps],
        "step_details": [step[2] for step in steps],
        "step_attempts": [int(step[3]) for step in steps],
        "events": events_json(events),
    }
    row = (await session.execute(_ADVANCE, params)).first()
    return _order(row) if row is not None else None


async def items_of(session: AsyncSession, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    """The lines of each order, in line order, as records (`ITEMS`: a placed order's lines never change)."""
    found: dict[uuid.UUID, list[Any]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        for item in ITEMS.of(await _ITEMS_OF.rows(session, {"order_ids": list(order_ids)})):
            found[item.order_id].append(item)
    return found


async def history_of(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[OrderStatusChange]]:
    found: dict[uuid.UUID, list[OrderStatusChange]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        statement = (
            select(OrderStatusChange)
            .where(OrderStatusChange.order_id.in_(order_ids))
            .order_by(OrderStatusChange.id)
        )
        for change in await session.scalars(statement):
            found[change.order_id].append(change)
    return found


async def add_history(session: AsyncSession, order_id: uuid.UUID, status: str, reason: str | None) -> None:
    await session.execute(insert(OrderStatusChange).values(order_id=order_id, status=status, reason=reason))


# --- listings (newest first, keyset on (created_at, id)) ---


async def newest_page(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    """A page of orders, newest first (ties by id), as records (read only: `ORDERS`)."""
    values: dict[str, Any] = {"page_limit": limit}
    if user_id is not None:
        values["user_id"] = user_id
    if status is not None:
        values["status"] = status
    if after is not None:
        values["after_at"], values["after_id"] = after
    return ORDERS.of(
        await _newest(user_id is not None, status is not None, after is not None).rows(session, values)
    )


@cache
def _newest(by_user: bool, by_status: bool, after: bool) -> PreparedRead:
    """The page statement of one shape of filter, built once."""
    statement = ORDERS.select()
    if by_user:
        statement = statement.where(Order.user_id == bindparam("user_id", type_=Order.user_id.type))
    if by_status:
        statement = statement.where(Order.status == bindparam("status", type_=Order.status.type))
    if after:
        after_at = bindparam("after_at", type_=Order.created_at.type)
        statement = statement.where(
            tuple_(Order.created_at, Order.id) < tuple_(after_at, bindparam("after_id", type_=Order.id.type))
        )
    limit = bindparam("page_limit", type_=BigInteger)
    return PreparedRead(statement.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))


# --- the saga's steps and leases ---


async def steps_of(session: AsyncSession, order_id: uuid.UUID) -> dict[str, SagaStep]:
    rows = await session.scalars(
        select(SagaStep).where(SagaStep.order_id == order_id).execution_options(populate_existing=True)
    )
    return {row.step: row for row in rows}


async def record_step(
    session: AsyncSession, order_id: uuid.UUID, step: str, status: str, detail: str | None, *, attempt: bool
) -> None:
    await record_steps(session, order_id, [(step, status, detail, attempt)])


async def record_steps(
    session: AsyncSession, order_id: uuid.UUID, steps: Sequence[tuple[str, str, str | None, bool]]
) -> None:
    """Record (step, status, detail, attempt) of distinct steps in one statement (a step done and the next
    one started)."""
    rows = [
        {"order_id": order_id, "step": step, "status": status, "detail": detail, "attempts": int(attempt)}
        for step, status, detail, attempt in steps
    ]
    statement = insert(SagaStep).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["order_id", "step"],
        set_={
            "status": statement.excluded.status,
            "detail": statement.excluded.detail,
            "attempts": SagaStep.attempts + statement.excluded.attempts,
            "updated_at": func.now(),
        },
    )
    await session.execute(statement)


async def renew_leases(
    session: AsyncSession, order_ids: list[uuid.UUID], owner: str, seconds: float
) -> set[uuid.UUID]:
    """The sagas of `order_ids` still leased to `owner`, their leases extended; one whose row a step holds
    right now is skipped (SKIP LOCKED: waiting for it would hold the others' rows meanwhile)."""
    ours = (
        select(Order.id)
        .where(Order.id.in_(order_ids), Order.lease_owner == owner, Order.saga_state != SagaState.DONE)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(Order)
        .where(Order.id.in_(ours))
        .values(lease_until=func.now() + interval_seconds(seconds))
        .returning(Order.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def claim_abandoned(session: AsyncSession, owner: str, seconds: float, limit: int) -> list[uuid.UUID]:
    """Unfinished sagas whose lease ran out (their process died), now leased to `owner`; replicas skip
    each other's rows (SKIP LOCKED), so one saga is never taken over twice."""
    candidates = (
        select(Order.id)
        .where(
            Order.saga_state != SagaState.DONE,
            or_(Order.lease_until.is_(None), Order.lease_until < func.now()),
        )
        .order_by(Order.lease_until.nulls_first())
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(candidates)).all())
    if ids:
        await session.execute(
            update(Order)
            .where(and_(Order.id.in_(ids)))
            .values(lease_owner=owner, lease_until=func.now() + interval_seconds(seconds))
        )
    return ids
