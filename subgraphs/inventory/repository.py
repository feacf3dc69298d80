"""SQL for the inventory tables, nothing else: rules live in service.py.

Stock rows only change through single conditional UPDATEs (or an upsert), so concurrent requests and
several inventory processes never lose an update nor oversell: PostgreSQL re-checks the WHERE clause on
the row version it waited for. What the catalog's events write to the stock rows: catalog_repository.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Interval, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import PreparedRead, any_of
from subgraphs.inventory.models import Reservation, ReservationLine, Restock, StockItem, StockMovement

# The tables themselves (not the ORM entities) for the saga's hot statements: a statement of ORM attributes
# runs through the ORM's bulk machinery (its compile state, its result handling) for a plain row.
_stock = StockItem.__table__
_reservations = Reservation.__table__
_lines = ReservationLine.__table__


@dataclass(frozen=True, slots=True)
class StockLevel:
    """One variant's stock row, and whether the catalog lets it be sold."""

    variant_id: uuid.UUID
    product_id: uuid.UUID
    on_hand: int
    reserved: int
    variant_active: bool = True
    product_active: bool = True

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def sellable(self) -> bool:
        return self.variant_active and self.product_active

    @classmethod
    def empty(cls, variant_id: uuid.UUID) -> StockLevel:
        """A variant inventory holds nothing of (nor heard of): its product is taken to share its id."""
        return cls(variant_id, variant_id, 0, 0)


@dataclass(frozen=True, slots=True)
class ProductStock:
    """A product's stock: the sums over its variants' rows, and whether any sellable variant is available."""

    product_id: uuid.UUID
    on_hand: int
    reserved: int
    in_stock: bool

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @classmethod
    def empty(cls, product_id: uuid.UUID) -> ProductStock:
        return cls(product_id, 0, 0, False)


@dataclass(frozen=True, slots=True)
class ReservationLineRecord:
    variant_id: uuid.UUID
    quantity: int
    # The variant's product as inventory knows it (the variant's own id for a legacy product).
    product_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    id: uuid.UUID
    key: str
    order_id: uuid.UUID | None
    status: str
    expires_at: datetime | None
    reason: str | None
    lines: tuple[ReservationLineRecord, ...]


@dataclass(frozen=True, slots=True)
class Movement:
    """One ledger row: what a change did to one variant's stock row, and why."""

    variant_id: uuid.UUID
    delta_on_hand: int
    delta_reserved: int
    reason: str
    reservation_id: uuid.UUID | None = None


_LEVEL_COLUMNS = (
    StockItem.variant_id,
    StockItem.product_id,
    StockItem.on_hand,
    StockItem.reserved,
    StockItem.variant_active,
    StockItem.product_active,
)
_RESERVATION_COLUMNS = (
    Reservation.id,
    Reservation.key,
    Reservation.order_id,
    Reservation.status,
    Reservation.expires_at,
    Reservation.reason,
)
_SELLABLE = and_(StockItem.variant_active, StockItem.product_active)
_STOCK_LEVEL = tuple(_stock.c[column.key] for column in _LEVEL_COLUMNS)
_RESERVATION = tuple(_reservations.c[column.key] for column in _RESERVATION_COLUMNS)


def _level(row: Any) -> StockLevel:
    """A row of `_LEVEL_COLUMNS` (or `_STOCK_LEVEL`) by position: SQLAlchemy's rows or the driver's."""
    return StockLevel(row[0], row[1], row[2], row[3], row[4], row[5])


# --- stock rows ------------------------------------------------------------------------------------------


# The stock reads of a page (`Product.stock` of 20 entities), built once: one array parameter whatever the
# number of ids, run on the driver in a query (`shared.db.PreparedRead`).
_LEVELS = PreparedRead(select(*_LEVEL_COLUMNS).where(any_of(StockItem.variant_id, "ids")))
_PRODUCT_STOCK = PreparedRead(
    select(
        StockItem.product_id,
        func.sum(StockItem.on_hand).label("on_hand"),
        func.sum(StockItem.reserved).label("reserved"),
        func.bool_or(and_(_SELLABLE, StockItem.on_hand > StockItem.reserved)).label("in_stock"),
    )
    .where(any_of(StockItem.product_id, "ids"))
    .group_by(StockItem.product_id)
)


async def get_levels(session: AsyncSession, variant_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StockLevel]:
    """The stock rows of `variant_ids` in one statement; variants without a row are absent."""
    if not variant_ids:
        return {}
    return {row[0]: _level(row) for row in await _LEVELS.rows(session, {"ids": list(variant_ids)})}


async def get_product_stock(
    session: AsyncSession, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ProductStock]:
    """The sums over the variant rows of each of `product_ids`, in one statement; products without a row are
    absent."""
    if not product_ids:
        return {}
    return {
        row[0]: ProductStock(row[0], int(row[1]), int(row[2]), bool(row[3]))
        for row in await _PRODUCT_STOCK.rows(session, {"ids": list(product_ids)})
    }


async def rows_of_id(session: AsyncSession, some_id: uuid.UUID) -> list[StockLevel]:
    """The row whose variant id is `some_id` first if there is one, then rows of the product `some_id`; two at
    most, which is what tells a variant id, a single-variant product's id and a several-variant product's id
    apart (service.adjust_stock)."""
    statement = (
        select(*_LEVEL_COLUMNS)
        .where(or_(StockItem.variant_id == some_id, StockItem.product_id == some_id))
        .order_by((StockItem.variant_id == some_id).desc(), StockItem.variant_id)
        .limit(2)
    )
    return [_level(row) for row in (await session.execute(statement)).all()]


async def unsellable(session: AsyncSession, variant_ids: Sequence[uuid.UUID]) -> list[StockLevel]:
    """The rows of `variant_ids` the catalog says cannot be sold (variant or product archived)."""
    statement = (
        select(*_LEVEL_COLUMNS)
        .where(any_of(StockItem.variant_id, "ids", variant_ids), ~_SELLABLE)
        .order_by(StockItem.variant_id)
    )
    return [_level(row) for row in (await session.execute(statement)).all()]


async def reserve_units(session: AsyncSession, variant_id: uuid.UUID, quantity: int) -> StockLevel | None:
    """Hold `quantity` units if that many are available and the variant may be sold; None (nothing changed)
    when not."""
    row = (
        await session.execute(_RESERVE_UNITS, {"p_variant_id": variant_id, "p_quantity": quantity})
    ).first()
    return _level(row) if row is not None else None


async def move_stock(
    session: AsyncSession, variant_id: uuid.UUID, delta_on_hand: int, delta_reserved: int
) -> StockLevel:
    """Apply deltas the caller knows to be covered (units it holds); the check constraints guard it."""
    params = {"p_variant_id": variant_id, "p_on_hand": delta_on_hand, "p_reserved": delta_reserved}
    return _level((await session.execute(_MOVE_STOCK, params)).one())


# The saga's stock statements, built once (each request's values bound at execution).
_RESERVE_UNITS = (
    update(_stock)
    .where(
        _stock.c.variant_id == bindparam("p_variant_id"),
        _stock.c.on_hand - _stock.c.reserved >= bindparam("p_quantity"),
        _stock.c.variant_active,
        _stock.c.product_active,
    )
    .values(reserved=_stock.c.reserved + bindparam("p_quantity"), updated_at=func.now())
    .returning(*_STOCK_LEVEL)
)
_MOVE_STOCK = (
    update(_stock)
    .where(_stock.c.variant_id == bindparam("p_variant_id"))
    .values(
        on_hand=_stock.c.on_hand + bindparam("p_on_hand"),
        reserved=_stock.c.reserved + bindparam("p_reserved"),
        updated_at=func.now(),
    )
    .returning(*_STOCK_LEVEL)
)


async def add_on_hand(
    session: AsyncSession, variant_id: uuid.UUID, delta: int, *, at_most: int
) -> StockLevel | None:
    """Receive `delta` (> 0) units, creating the row on the first receipt (its product: the variant's own id
    until a catalog event says otherwise); None when on hand would pass `at_most`."""
    statement = pg_insert(StockItem).values(
        variant_id=variant_id, product_id=variant_id, on_hand=delta, reserved=0
    )
    statement = statement.on_conflict_do_update(
        index_elements=[StockItem.variant_id],
        set_={"on_hand": StockItem.on_hand + statement.excluded.on_hand, "updated_at": func.now()},
        where=StockItem.on_hand + statement.excluded.on_hand <= at_most,
    ).returning(*_LEVEL_COLUMNS)
    row = (await session.execute(statement)).one_or_none()
    return _level(row) if row is not None else None


async def remove_on_hand(session: AsyncSession, variant_id: uuid.UUID, delta: int) -> StockLevel | None:
    """Take `delta` (> 0) units off hand unless that would leave less than is reserved; None then."""
    statement = (
        update(StockItem)
        .where(StockItem.variant_id == variant_id, StockItem.on_hand - delta >= StockItem.reserved)
        .values(on_hand=StockItem.on_hand - delta, updated_at=func.now())
        .returning(*_LEVEL_COLUMNS)
    )
    row = (await session.execute(statement)).one_or_none()
    return _level(row) if row is not None else None


async def record_movements(session: AsyncSession, movements: Iterable[Movement]) -> None:
    rows = [
        {
            "variant_id": movement.variant_id,
            "delta_on_hand": movement.delta_on_hand,
            "delta_reserved": movement.delta_reserved,
            "reason": movement.reason,
            "reservation_id": movement.reservation_id,
        }
        for movement in movements
    ]
    if rows:
        await session.execute(pg_insert(StockMovement).values(rows))


async def insert_stock_skipping_existing(
    session: AsyncSession,
    quantities: Mapping[uuid.UUID, int],
    product_ids: Mapping[uuid.UUID, uuid.UUID] | None = None,
) -> list[StockLevel]:
    """Stock rows for the variants that have none yet (one multi-row INSERT), each of its product in
    `product_ids` (a variant absent there is its own product: a single-variant product's variant shares its
    id); the rows that were new."""
    if not quantities:
        return []
    products = product_ids or {}
    rows = [
        {"variant_id": vid, "product_id": products.get(vid, vid), "on_hand": quantity, "reserved": 0}
        for vid, quantity in quantities.items()
    ]
    statement = (
        pg_insert(StockItem)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[StockItem.variant_id])
        .returning(*_LEVEL_COLUMNS)
    )
    return [_level(row) for row in (await session.execute(statement)).all()]


# --- reservations ----------------------------------------------------------------------------------------


async def insert_reservation(
    session: AsyncSession,
    *,
    key: str,
    order_id: uuid.UUID | None,
    status: str,
    ttl: timedelta | None,
    reason: str | None = None,
) -> ReservationRecord | None:
    """A new reservation (without lines yet) under `key`; None when the key is taken, after waiting for a
    concurrent inserter of the same key to commit or roll back."""
    params = {"p_key": key, "p_order_id": order_id, "p_status": status, "p_ttl": ttl, "p_reason": reason}
    row = (await session.execute(_INSERT_RESERVATION, params)).first()
    return _record(row, ()) if row is not None else None


# Built once. Without a ttl (a tombstone) it never expires: now() + NULL is NULL.
_INSERT_RESERVATION = (
    pg_insert(_reservations)
    .values(
        key=bindparam("p_key"),
        order_id=bindparam("p_order_id"),
        status=bindparam("p_status"),
        expires_at=func.now() + bindparam("p_ttl", type_=Interval()),
        reason=bindparam("p_reason"),
    )
    .on_conflict_do_nothing(index_elements=[_reservations.c.key])
    .returning(*_RESERVATION)
)


async def get_reservation(
    session: AsyncSession, key: str, *, for_update: bool = False
) -> ReservationRecord | None:
    """One reservation by key with its lines, in one statement; `for_update` locks its row (not its lines'
    nor their stock rows') until the transaction ends."""
    statement = _reservation_with_lines_for_update if for_update else _reservation_with_lines
    rows = (await session.execute(statement, {"key": key})).all()
    if not rows:
        return None
    lines = [
        ReservationLineRecord(row.variant_id, row.quantity, row.product_id)
        for row in rows
        if row.variant_id is not None
    ]
    return _record(rows[0], lines)


# A reservation's row and its lines (a line's product: its stock row's; the outer joins keep a tombstone's
# row, which has no lines), in variant id order.
_reservation_with_lines = (
    select(
        *_RESERVATION,
        _lines.c.variant_id,
        _lines.c.quantity,
        func.coalesce(_stock.c.product_id, _lines.c.variant_id).label("product_id"),
    )
    .select_from(
        _reservations.outerjoin(_lines, _lines.c.reservation_id == _reservations.c.id).outerjoin(
            _stock, _stock.c.variant_id == _lines.c.variant_id
        )
    )
    .where(_reservations.c.key == bindparam("key"))
    .order_by(_lines.c.variant_id)
)
_reservation_with_lines_for_update = _reservation_with_lines.with_for_update(of=_reservations)


async def lock_lapsed_reservations(
    session: AsyncSession, *, as_of: datetime | None, limit: int
) -> list[ReservationRecord]:
    """Up to `limit` RESERVED reservations past their deadline, locked; rows another transaction holds are
    skipped, so concurrent sweepers never take the same reservation."""
    deadline = as_of if as_of is not None else func.now()
    statement = (
        select(*_RESERVATION_COLUMNS)
        .where(Reservation.status == "RESERVED", Reservation.expires_at <= deadline)
        .order_by(Reservation.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = (await session.execute(statement)).all()
    return await _with_lines(session, rows)


async def _with_lines(session: AsyncSession, rows: Sequence[Any]) -> list[ReservationRecord]:
    if not rows:
        return []
    # A line's product: its stock row's (the row always exists: nothing is reserved without one; the outer
    # join only guards a tombstone's absent lines).
    statement = (
        select(
            ReservationLine.reservation_id,
            ReservationLine.variant_id,
            ReservationLine.quantity,
            func.coalesce(StockItem.product_id, ReservationLine.variant_id).label("product_id"),
        )
        .outerjoin(StockItem, StockItem.variant_id == ReservationLine.variant_id)
        .where(any_of(ReservationLine.reservation_id, "rids", [row.id for row in rows]))
        .order_by(ReservationLine.reservation_id, ReservationLine.variant_id)
    )
    lines: dict[uuid.UUID, list[ReservationLineRecord]] = {}
    for line in (await session.execute(statement)).all():
        lines.setdefault(line.reservation_id, []).append(
            ReservationLineRecord(line.variant_id, line.quantity, line.product_id)
        )
    return [_record(row, lines.get(row.id, ())) for row in rows]


def _record(row: Any, lines: Iterable[ReservationLineRecord]) -> ReservationRecord:
    return ReservationRecord(
        id=row.id,
        key=row.key,
        order_id=row.order_id,
        status=row.status,
        expires_at=row.expires_at,
        reason=row.reason,
        lines=tuple(lines),
    )


async def insert_restock_if_new_key(
    session: AsyncSession, key: str, order_id: uuid.UUID, reason: str
) -> bool:
    """Claim `key` for a restock: True when new, False when the key was applied before (waiting, while another
    transaction holds it uncommitted, for that one to end)."""
    statement = (
        pg_insert(Restock)
        .values(key=key, order_id=order_id, reason=reason)
        .on_conflict_do_nothing(index_elements=[Restock.key])
        .returning(Restock.key)
    )
    return (await session.execute(statement)).one_or_none() is not None
