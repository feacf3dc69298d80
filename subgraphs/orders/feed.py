"""Orders' changes as subscriptions read them: the entries of the orders event stream (`OrderPlaced` is the
change to PENDING, `OrderStatusChanged` every later one, `OrderFulfillmentChanged` a change of its
fulfillment), each with the order it is about.

One `OrderFeed` per process (one stream reader, `shared.fanout`); an order row is read once per stream entry
for all the subscribers of the process, in one query per batch, in a short session of its own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.context import Runtime
from shared.errors import BadUserInput
from shared.fanout import StreamEntry, StreamFanout, StreamSubscription, parse_entry_id
from shared.outbox import stream_name
from subgraphs.orders import repository
from subgraphs.orders.events import OrderEvent
from subgraphs.orders.fulfillment import FULFILLMENT_STATUSES
from subgraphs.orders.models import Order, OrderStatus

STATUSES = frozenset(OrderStatus)
# What an OrderChange is about: the order's status, or its fulfillment (OrderFulfillmentChanged).
STATUS = "STATUS"
FULFILLMENT = "FULFILLMENT"
# Rows kept for the stream's recent entries: subscribers of one process share one read per entry.
ROW_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class OrderChange:
    """An order's status change, or a change of its fulfillment, with the order (as it is now; its status is
    the change's; for a FULFILLMENT change the order's status now, and `previous_status` the same)."""

    order: Order
    status: str
    previous_status: str | None
    reason: str | None
    at: datetime
    # Where a subscriber resumes after this change; None for a change read from the order's history.
    cursor: str | None
    kind: str = STATUS
    # For a FULFILLMENT change: the order's fulfillment after it, and the shipment that moved it.
    fulfillment_status: str | None = None
    shipment_id: str | None = None


def encode_cursor(entry_id: str) -> str:
    return base64.urlsafe_b64encode(entry_id.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: object) -> str:
    """The stream entry id of a cursor a client got from `orderUpdates`; BAD_USER_INPUT otherwise."""
    try:
        if not isinstance(cursor, str) or not 0 < len(cursor) <= 64:
            raise ValueError
        entry_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        parse_entry_id(entry_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadUserInput("Not a cursor from orderUpdates.", field="after") from None
    return entry_id


class OrderFeed:
    def __init__(self, runtime: Runtime) -> None:
        self.fanout = StreamFanout(
            runtime.redis,
            stream_name(runtime.settings.redis_prefix, "orders"),
            types=(
                OrderEvent.ORDER_PLACED,
                OrderEvent.ORDER_STATUS_CHANGED,
                OrderEvent.ORDER_FULFILLMENT_CHANGED,
            ),
        )
        self.sessionmaker: async_sessionmaker[AsyncSession] = runtime.sessionmaker
        self._rows: OrderedDict[str, asyncio.Future[Order | None]] = OrderedDict()
        self._loads: set[asyncio.Task[None]] = set()

    def subscribe(
        self, *, order_id: uuid.UUID | None = None, after: str | None = None, idle_seconds: float = 5.0
    ) -> StreamSubscription:
        key = str(order_id) if order_id is not None else None
        return self.fanout.subscribe(key=key, after=after, idle_seconds=idle_seconds)

    async def changes(self, subscription: StreamSubscription) -> AsyncIterator[list[OrderChange]]:
        """The subscription's batches as order changes ([] when idle)."""
        async for entries in subscription.batches():
            yield await self._changes(entries) if entries else []

    async def close(self) -> None:
        await self.fanout.close()
        for task in list(self._loads):
            task.cancel()

    async def _changes(self, entries: list[StreamEntry]) -> list[OrderChange]:
        rows = await self._rows_of(entries)
        changes = []
        for entry, row in zip(entries, rows, strict=True):
            payload = entry.event.payload
            if entry.event.type == OrderEvent.ORDER_FULFILLMENT_CHANGED:
                change = _fulfillment_change(entry, row)
                if change is not None:
                    changes.append(change)
                continue
            if entry.event.type == OrderEvent.ORDER_PLACED:
                status, previous, reason = OrderStatus.PENDING, None, None
            else:
                status, previous, reason = (
                    payload.get("status"),
                    payload.get("previousStatus"),
                    payload.get("reason"),
                )
            if row is None or status not in STATUSES:
                continue
            changes.append(
                OrderChange(
                    order=row,
                    status=status,
                    previous_status=previous if previous in STATUSES else None,
                    reason=reason if isinstance(reason, str) else None,
                    at=entry.event.occurred_at,
                    cursor=encode_cursor(entry.id),
                )
            )
        return changes

    async def _rows_of(self, entries: list[StreamEntry]) -> list[Order | None]:
        loop = asyncio.get_running_loop()
        wanted: list[asyncio.Future[Order | None]] = []
        missing: dict[str, tuple[asyncio.Future[Order | None], uuid.UUID | None]] = {}
        for entry in entries:
            future = self._rows.get(entry.id)
            if future is None:
                future = self._rows[entry.id] = loop.create_future()
                missing[entry.id] = (future, _uuid(entry.event.aggregate_id))
            wanted.append(future)
        while len(self._rows) > ROW_CACHE_SIZE:
            self._rows.popitem(last=False)
        if missing:
            # Its own task: the subscriber that started the read may leave; the others still wait on it.
            task = asyncio.create_task(self._load(missing))
            self._loads.add(task)
            task.add_done_callback(self._loads.discard)
        return [await asyncio.shield(future) for future in wanted]

    async def _load(self, missing: dict[str, tuple[asyncio.Future[Order | None], uuid.UUID | None]]) -> None:
        try:
            ids = list({order_id for _, order_id in missing.values() if order_id is not None})
            async with self.sessionmaker() as session:
                found = {order.id: order for order in await repository.get_many(session, ids)}
        except BaseException as exc:
            for entry_id, (future, _) in missing.items():
                self._rows.pop(entry_id, None)
                if not future.done():
                    future.set_exception(
                        exc if isinstance(exc, Exception) else RuntimeError("read cancelled")
                    )
                    future.exception()  # retrieved by its waiters, or by nobody: never a "never retrieved"
            raise
        for future, order_id in missing.values():
            if not future.done():
                future.set_result(found.get(order_id) if order_id is not None else None)


def _fulfillment_change(entry: StreamEntry, row: Order | None) -> OrderChange | None:
    payload = entry.event.payload
    fulfillment = payload.get("fulfillmentStatus")
    shipment_id = payload.get("shipmentId")
    if row is None or fulfillment not in FULFILLMENT_STATUSES:
        return None
    return OrderChange(
        order=row,
        status=row.status,
        previous_status=row.status,
        reason=None,
        at=entry.event.occurred_at,
        cursor=encode_cursor(entry.id),
        kind=FULFILLMENT,
        fulfillment_status=fulfillment,
        shipment_id=shipment_id if isinstance(shipment_id, str) else None,
    )


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
