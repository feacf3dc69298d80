"""Inventory's actions: adjust stock, and reserve, confirm and release units for the order saga; the sweeper
that expires forgotten reservations (a return's restock: restocks.py). Rules here, SQL in repository.py.

Stock is kept per variant (products' `ProductVariant`); a product id names the variant sharing its id (every
product older than variants, and every product created without them, has one). What the catalog says of a
variant (its product, whether it and its product are active) comes from products' events (events.py).

Every action runs in its caller's transaction (the request's `context.session`, or a sweeper batch) and never
commits. Lock order, so that concurrent actions never deadlock: a reservation row first, then stock rows in
variant id order.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import ids
from shared.errors import BadUserInput, MyShopError, NotFound
from shared.ids import parse_uuid
from shared.outbox import Event
from subgraphs.inventory import events, repository
from subgraphs.inventory.changes_repository import Settlement, write_changes
from subgraphs.inventory.metrics import InventoryMetrics
from subgraphs.inventory.models import FINAL_STATUSES, KEY_MAX_LENGTH, REASON_MAX_LENGTH, ReservationStatus
from subgraphs.inventory.repository import (
    Movement,
    ProductStock,
    ReservationLineRecord,
    ReservationRecord,
    StockLevel,
)
from subgraphs.inventory.settings import InventorySettings
from subgraphs.inventory.state import InventoryState

if TYPE_CHECKING:
    from shared.context import Context

logger = logging.getLogger(__name__)

MAX_ADJUSTMENT = 1_000_000
# Far below PostgreSQL's integer limit, so no sum of stock ever overflows a column.
MAX_ON_HAND = 1_000_000_000
MAX_LINES = 100
MAX_LINE_QUANTITY = 10_000
# Tries of one reservation line whose row changed between its UPDATE and the read that explains the refusal.
RESERVE_LINE_TRIES = 3

# Ledger and event reasons of the changes inventory makes on its own.
REASON_RESERVED = "reserved"
REASON_CONFIRMED = "confirmed"
REASON_EXPIRED = "expired"


class InsufficientStock(MyShopError):
    """An adjustment would leave fewer units on hand than are reserved."""

    code = "INSUFFICIENT_STOCK"


class OutOfStock(MyShopError):
    """A reservation line asks for more units than are available; `variantId` and its `productId` name it."""

    code = "OUT_OF_STOCK"


class NotSellable(MyShopError):
    """A reservation line names a variant that is archived, or whose product is: the whole reservation is
    refused. `variantId`/`productId` name the first such line, `variantIds` all of them."""

    code = "NOT_SELLABLE"


class VariantRequired(MyShopError):
    """A product id was given where inventory knows the product has several variants, none sharing its id:
    which variant is meant must be said."""

    code = "VARIANT_REQUIRED"


class ReservationReleased(MyShopError):
    """The reservation gave its units back (released, expired or restocked): it cannot be confirmed."""

    code = "RESERVATION_RELEASED"


# --- input rules -------------------------------------------------------------------------------------


def clean_key(value: object) -> str:
    return ids.clean_key(value, field="key", max_length=KEY_MAX_LENGTH)


def clean_reason(value: object, field: str = "reason") -> str:
    reason = value.strip() if isinstance(value, str) else ""
    if not reason:
        raise BadUserInput("Say why: the reason cannot be blank.", field=field)
    if len(reason) > REASON_MAX_LENGTH:
        raise BadUserInput(f"The reason is at most {REASON_MAX_LENGTH} characters.", field=field)
    return reason


def clean_delta(value: object) -> int:
    if type(value) is not int or value == 0:
        raise BadUserInput("The change is a non-zero whole number of units.", field="delta")
    if abs(value) > MAX_ADJUSTMENT:
        raise BadUserInput(f"One adjustment moves at most {MAX_ADJUSTMENT} units.", field="delta")
    return value


@dataclass(frozen=True, slots=True)
class StockLine:
    """A reservation line as the caller gave it: a variant id, or (as before variants) a product id that
    means the variant sharing it; exactly one of them."""

    variant_id: object
    product_id: object
    quantity: object


def clean_lines(lines: Sequence[StockLine]) -> list[tuple[uuid.UUID, int]]:
    """Lines -> (variant id, quantity) in variant id order (the lock order), one variant twice merged."""
    if not lines:
        raise BadUserInput("A reservation needs at least one line.", field="lines")
    if len(lines) > MAX_LINES:
        raise BadUserInput(f"A reservation has at most {MAX_LINES} lines.", field="lines")
    merged: dict[uuid.UUID, int] = {}
    for index, line in enumerate(lines):
        if (line.variant_id is None) == (line.product_id is None):
            raise BadUserInput(
                "A line names its variant by variantId (or, as before variants, productId): exactly one.",
                field=f"lines[{index}].variantId",
            )
        if line.variant_id is not None:
            variant_id = parse_uuid(line.variant_id, f"lines[{index}].variantId", "a variant id")
        else:  # a product id names the variant sharing it
            variant_id = parse_uuid(line.product_id, f"lines[{index}].productId", "a product id")
        quantity = line.quantity
        if type(quantity) is not int or not 1 <= quantity <= MAX_LINE_QUANTITY:
            raise BadUserInput(
                f"A quantity is 1 to {MAX_LINE_QUANTITY} units.", field=f"lines[{index}].quantity"
            )
        merged[variant_id] = merged.get(variant_id, 0) + quantity
    return [(variant_id, merged[variant_id]) for variant_id in sorted(merged)]


# --- the service -------------------------------------------------------------------------------------


class InventoryService:
    def __init__(
        self, session: AsyncSession, settings: InventorySettings, metrics: InventoryMetrics | None = None
    ) -> None:
        self.session = session
        self.settings = settings
        self.metrics = metrics

    @classmethod
    def of(cls, context: Context) -> InventoryService:
        state: InventoryState = context.runtime.state
        return cls(context.session, state.settings, state.metrics)

    def _count(self, outcome: str, amount: int = 1) -> None:
        if self.metrics is not None:
            self.metrics.reservation(outcome, amount)

    # --- stock ---

    async def adjust_stock(self, product_id: object, delta: object, reason: object) -> StockLevel:
        """`adjustStock(productId)`, as before variants: the product's id names the variant sharing it (or the
        product's only variant inventory knows of); a product with several variants, none of its id, needs
        `adjust_variant_stock` (VARIANT_REQUIRED). An id inventory knows nothing of gets a row of its own."""
        pid = parse_uuid(product_id, "productId", "a product id")
        units = clean_delta(delta)
        why = clean_reason(reason)
        rows = await repository.rows_of_id(self.session, pid)
        if not rows or rows[0].variant_id == pid:
            variant_id = pid
        elif len(rows) == 1:
            variant_id = rows[0].variant_id
        else:
            raise VariantRequired(
                "This product has several variants: adjust the stock of one (adjustVariantStock).",
                field="productId",
                productId=str(pid),
            )
        return await self._adjust(variant_id, units, why)

    async def adjust_variant_stock(self, variant_id: object, delta: object, reason: object) -> StockLevel:
        """Receive (delta > 0) or write off (delta < 0) units of one variant; never below what is reserved.
        The id of a product whose variants inventory knows (none sharing its id) is not a variant's:
        VARIANT_REQUIRED rather than a stock row that no variant has."""
        vid = parse_uuid(variant_id, "variantId", "a variant id")
        units = clean_delta(delta)
        why = clean_reason(reason)
        rows = await repository.rows_of_id(self.session, vid)
        if rows and rows[0].variant_id != vid:
            raise VariantRequired(
                "This is a product's id: adjust the stock of one of its variants.",
                field="variantId",
                productId=str(vid),
            )
        return await self._adjust(vid, units, why)

    async def _adjust(self, vid: uuid.UUID, units: int, why: str) -> StockLevel:
        if units > 0:
            level = await repository.add_on_hand(self.session, vid, units, at_most=MAX_ON_HAND)
            if level is None:
                raise BadUserInput(f"A variant has at most {MAX_ON_HAND} units on hand.", field="delta")
        else:
            level = await repository.remove_on_hand(self.session, vid, -units)
            if level is None:
                current = (await repository.get_levels(self.session, [vid])).get(vid) or StockLevel.empty(vid)
                raise InsufficientStock(
                    f"Only {current.available} unreserved units can be taken off.",
                    field="delta",
                    variantId=str(vid),
                    productId=str(current.product_id),
                    available=current.available,
                )
        await repository.record_movements(self.session, [Movement(vid, units, 0, why)])
        await self._emit(level, delta_available=units, reason=why)
        return level

    async def product_stock(self, product_id: uuid.UUID) -> ProductStock:
        """A product's stock as it stands in this transaction (after a change: the sums include it)."""
        found = await repository.get_product_stock(self.session, [product_id])
        return found.get(product_id) or ProductStock.empty(product_id)

    async def _emit(self, after: StockLevel, *, delta_available: int, reason: str) -> None:
        await events.stock_changed(
            self.session,
            after.available - delta_available,
            after,
            reason,
            low_threshold=self.settings.low_stock_threshold,
        )

    def _events(self, after: StockLevel, *, delta_available: int, reason: str) -> list[Event]:
        return events.stock_change_events(
            after.available - delta_available, after, reason, low_threshold=self.settings.low_stock_threshold
        )

    async def _apply(
        self, movements: Sequence[Movement], reason: str, settle: Settlement | None = None
    ) -> None:
        """Apply movements the caller's reservations cover: one UPDATE and one event per variant, in variant
        id order, and one ledger row per movement; `settle`: the reservations' new status. The UPDATEs first,
        then the rest in one statement. The catalog's flags are not asked: units held for an order go back
        (or leave) even after its variant was archived."""
        totals: dict[uuid.UUID, tuple[int, int]] = {}
        for movement in movements:
            on_hand, reserved = totals.get(movement.variant_id, (0, 0))
            totals[movement.variant_id] = (
                on_hand + movement.delta_on_hand,
                reserved + movement.delta_reserved,
            )
        emitted: list[Event] = []
        for variant_id in sorted(totals):
            delta_on_hand, delta_reserved = totals[variant_id]
            level = await repository.move_stock(self.session, variant_id, delta_on_hand, delta_reserved)
            emitted += self._events(level, delta_available=delta_on_hand - delta_reserved, reason=reason)
        await write_changes(self.session, movements=movements, events=emitted, settle=settle)

    # --- reservations ---

    async def get_reservation(self, key: object) -> ReservationRecord | None:
        return await repository.get_reservation(self.session, clean_key(key))

    async def reserve_stock(
        self, key: object, order_id: object, lines: Sequence[StockLine]
    ) -> ReservationRecord:
        """Hold every line's units for the order, or none: a line of a variant the catalog archived (or of an
        archived product) refuses the whole reservation (NOT_SELLABLE, before any OUT_OF_STOCK: it is not
        worth retrying), a line short of units too (OUT_OF_STOCK). Idempotent by key: a known key returns its
        reservation whatever its status (a tombstone included) and reserves nothing."""
        key = clean_key(key)
        oid = parse_uuid(order_id, "orderId", "an order id")
        wanted = clean_lines(lines)
        created = await repository.insert_reservation(
            self.session,
            key=key,
            order_id=oid,
            status=ReservationStatus.RESERVED,
            ttl=timedelta(seconds=self.settings.reservation_ttl_seconds),
        )
        if created is None:
            # The key's first call committed (ON CONFLICT waited for it): a new statement sees its row.
            existing = await repository.get_reservation(self.session, key)
            if existing is None:
                raise RuntimeError(f"reservation {key!r} conflicted but cannot be read")
            return existing
        # The request rolls back on any refusal: units held for earlier lines and the reservation row go too.
        # One line needs no look first: its UPDATE refuses an unsellable variant and `_reserve_line` says so.
        blocked = (
            await repository.unsellable(self.session, [variant_id for variant_id, _ in wanted])
            if len(wanted) > 1
            else []
        )
        if blocked:
            self._not_sellable(blocked)
        reserved: list[ReservationLineRecord] = []
        emitted: list[Event] = []
        for variant_id, quantity in wanted:  # sorted by variant id: concurrent reservations lock in one order
            level = await self._reserve_line(variant_id, quantity)
            reserved.append(ReservationLineRecord(variant_id, quantity, level.product_id))
            emitted += self._events(level, delta_available=-quantity, reason=REASON_RESERVED)
        # Its lines, ledger rows and events in one statement.
        await write_changes(
            self.session,
            movements=[
                Movement(line.variant_id, 0, line.quantity, REASON_RESERVED, created.id) for line in reserved
            ],
            events=emitted,
            lines=(created.id, reserved),
        )
        self._count("reserved")
        return replace(created, lines=tuple(reserved))

    async def _reserve_line(self, variant_id: uuid.UUID, quantity: int) -> StockLevel:
        """Hold one line's units, or raise why not. The UPDATE checks units and flags on the row it locks;
        when it holds nothing, a new read says which failed: it may see neither (the catalog archived and
        restored the variant in between, or units came back), and then the line is tried again."""
        current: StockLevel | None = None
        for _ in range(RESERVE_LINE_TRIES):
            level = await repository.reserve_units(self.session, variant_id, quantity)
            if level is not None:
                return level
            current = (await repository.get_levels(self.session, [variant_id])).get(variant_id)
            if current is not None and not current.sellable:
                self._not_sellable([current])
            if current is None or current.available < quantity:
                self._count("out_of_stock")
                current = current or StockLevel.empty(variant_id)
                raise OutOfStock(
                    f"Only {current.available} units of variant {variant_id} are available.",
                    variantId=str(variant_id),
                    productId=str(current.product_id),
                    requested=quantity,
                    available=current.available,
                )
        # The catalog kept archiving and restoring the variant: it was not sellable each time it was tried.
        self._count("not_sellable")
        product_id = current.product_id if current is not None else variant_id
        raise NotSellable(
            f"Variant {variant_id} was archived each time it was tried.",
            variantId=str(variant_id),
            productId=str(product_id),
            variantIds=[str(variant_id)],
        )

    def _not_sellable(self, blocked: Sequence[StockLevel]) -> NoReturn:
        self._count("not_sellable")
        first = blocked[0]
        raise NotSellable(
            f"Variant {first.variant_id} cannot be sold: "
            + ("its product is archived." if not first.product_active else "it is archived."),
            variantId=str(first.variant_id),
            productId=str(first.product_id),
            variantIds=[str(level.variant_id) for level in blocked],
        )

    async def confirm_reservation(self, key: object) -> ReservationRecord:
        """RESERVED -> CONFIRMED: the units leave (on hand and reserved both drop). Idempotent."""
        key = clean_key(key)
        reservation = await repository.get_reservation(self.session, key, for_update=True)
        if reservation is None:
            raise NotFound("No reservation has this key.", field="key")
        if reservation.status == ReservationStatus.CONFIRMED:
            return reservation
        if reservation.status in FINAL_STATUSES:
            raise ReservationReleased(
                f"The reservation is {reservation.status}: its units went back to stock.",
                field="key",
                status=reservation.status,
            )
        # Still RESERVED, even past its deadline if the sweeper has not come by: the units are still held.
        await self._apply(
            [
                Movement(line.variant_id, -line.quantity, -line.quantity, REASON_CONFIRMED, reservation.id)
                for line in reservation.lines
            ],
            REASON_CONFIRMED,
            Settlement([reservation.id], ReservationStatus.CONFIRMED),
        )
        return self._transitioned(reservation, ReservationStatus.CONFIRMED, "confirmed")

    async def release_reservation(self, key: object, reason: object) -> ReservationRecord:
        """RESERVED -> RELEASED (the held units come back), CONFIRMED -> RESTOCKED (the units come back on
        hand); a final reservation is returned as is. An unknown key leaves a RELEASED tombstone, so a
        reserveStock with that key arriving later reserves nothing."""
        key = clean_key(key)
        why = clean_reason(reason)
        reservation = await repository.get_reservation(self.session, key, for_update=True)
        if reservation is None:
            tombstone = await repository.insert_reservation(
                self.session, key=key, order_id=None, status=ReservationStatus.RELEASED, ttl=None, reason=why
            )
            if tombstone is not None:
                self._count("released")
                return tombstone
            # A reserveStock with this key committed meanwhile (ON CONFLICT waited for it): release it.
            reservation = await repository.get_reservation(self.session, key, for_update=True)
            if reservation is None:
                raise RuntimeError(f"reservation {key!r} conflicted but cannot be read")
        if reservation.status == ReservationStatus.RESERVED:
            await self._apply(
                [
                    Movement(line.variant_id, 0, -line.quantity, why, reservation.id)
                    for line in reservation.lines
                ],
                why,
                Settlement([reservation.id], ReservationStatus.RELEASED, reason=why),
            )
            return self._transitioned(reservation, ReservationStatus.RELEASED, "released", reason=why)
        if reservation.status == ReservationStatus.CONFIRMED:
            await self._apply(
                [
                    Movement(line.variant_id, line.quantity, 0, why, reservation.id)
                    for line in reservation.lines
                ],
                why,
                Settlement([reservation.id], ReservationStatus.RESTOCKED, reason=why),
            )
            return self._transitioned(reservation, ReservationStatus.RESTOCKED, "restocked", reason=why)
        return reservation

    def _transitioned(
        self,
        reservation: ReservationRecord,
        status: ReservationStatus,
        outcome: str,
        *,
        reason: str | None = None,
    ) -> ReservationRecord:
        """`reservation` as `_apply` settled it (`status`, and `reason` when given)."""
        self._count(outcome)
        return replace(reservation, status=status.value, expires_at=None, reason=reason or reservation.reason)

    # --- the sweeper ---

    async def expire_lapsed(self, *, as_of: datetime | None = None, limit: int = 100) -> int:
        """Expire up to `limit` RESERVED reservations past their deadline (as of `as_of`, default the
        database's now) and give their units back; how many it expired. Reservations another transaction
        holds are skipped: they are being confirmed or released, or another sweeper has them."""
        lapsed = await repository.lock_lapsed_reservations(self.session, as_of=as_of, limit=limit)
        if not lapsed:
            return 0
        await self._apply(
            [
                Movement(line.variant_id, 0, -line.quantity, REASON_EXPIRED, reservation.id)
                for reservation in lapsed
                for line in reservation.lines
            ],
            REASON_EXPIRED,
            Settlement(
                [reservation.id for reservation in lapsed], ReservationStatus.EXPIRED, keep_expiry=True
            ),
        )
        self._count("expired", len(lapsed))
        return len(lapsed)


def reservation_lines(lines: Iterable[Any]) -> list[StockLine]:
    """GraphQL line inputs -> the lines the service reads."""
    return [StockLine(line.variant_id, line.product_id, line.quantity) for line in lines]


async def sweep_expired_reservations(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: InventorySettings,
    metrics: InventoryMetrics | None = None,
    *,
    as_of: datetime | None = None,
) -> int:
    """Expire every lapsed reservation, one batch per transaction (short locks); how many it expired.
    Safe to run in several processes at once: each reservation is expired by exactly one of them."""
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            expired = await InventoryService(session, settings, metrics).expire_lapsed(
                as_of=as_of, limit=settings.sweep_batch_size
            )
        total += expired
        if expired < settings.sweep_batch_size:
            return total
