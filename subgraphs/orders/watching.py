"""The orders subscriptions' side of the order service: one order's story (`orderStatusChanged`) and the
feed of every change (`orderUpdates`), resumable from a cursor.

Both check the caller when they start and again before every event (and when idle): a token that expired or
was revoked since (logout, role change) ends the subscription with UNAUTHENTICATED. Neither holds a database
session while it waits: rows are read in short sessions of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from shared.auth import Role
from shared.errors import Forbidden, NotFound
from shared.fulfillment import FulfillmentStatus
from shared.ids import parse_uuid
from subgraphs.orders import fulfillment_repository, repository
from subgraphs.orders.feed import FULFILLMENT, STATUS, OrderChange, OrderFeed, decode_cursor
from subgraphs.orders.fulfillment import fulfillment_status
from subgraphs.orders.models import OrderStatus
from subgraphs.orders.service import OrderService

# A subscription with nothing to send re-checks its caller's token this often.
SUBSCRIPTION_IDLE_SECONDS = 5.0
# Where one order's story ends (besides its delivery): a CONFIRMED order goes on, to its shipments.
ENDING_STATUSES = frozenset({OrderStatus.CANCELLED, OrderStatus.FAILED})


class OrderWatch(OrderService):
    async def watch_order(self, raw_id: object) -> AsyncIterator[OrderChange]:
        """The story of one order (its customer, ADMIN or PARTNER): the status changes it already went
        through, from its history, then each later change as it happens, of its status or its fulfillment.
        It ends when the order is CANCELLED or FAILED, or DELIVERED (its fulfillment); at once after its
        history when it already is (a delivered order's history ends with one FULFILLMENT change)."""
        order_id = parse_uuid(raw_id, "orderId")
        order = await self.context.loaders.order.load(str(order_id))
        if order is None:
            raise NotFound("No such order.", field="orderId")
        await self.require_reader(order)
        return self._order_story(order_id)

    async def _order_story(self, order_id: uuid.UUID) -> AsyncIterator[OrderChange]:
        # Listening before the history is read: a change is in the history, or comes live, or both.
        subscription = self._feed.subscribe(order_id=order_id, idle_seconds=SUBSCRIPTION_IDLE_SECONDS)
        try:
            async with self.saga.sessionmaker() as session:
                order = await repository.get(session, order_id)
                history = (await repository.history_of(session, [order_id]))[order_id]
                items = (await repository.items_of(session, [order_id]))[order_id]
                shipments = await fulfillment_repository.shipments_of(session, order_id)
            assert order is not None
            # An order goes through each status at most once: a live change already told is skipped.
            told: set[str] = set()
            previous: str | None = None
            for change in history:
                told.add(change.status)
                await self.context.reauthorize()
                yield OrderChange(order, change.status, previous, change.reason, change.at, cursor=None)
                await self.context.between_events()
                previous = change.status
            if previous in ENDING_STATUSES:
                return
            if fulfillment_status(items, shipments) == FulfillmentStatus.DELIVERED:
                await self.context.reauthorize()
                yield OrderChange(
                    order,
                    order.status,
                    order.status,
                    None,
                    max(s.delivered_at or s.event_at for s in shipments),
                    cursor=None,
                    kind=FULFILLMENT,
                    fulfillment_status=FulfillmentStatus.DELIVERED,
                )
                return
            async for batch in self._feed.changes(subscription):
                await self.context.reauthorize()
                for live in batch:
                    if live.kind == STATUS and live.status in told:
                        continue
                    told.add(live.status)
                    await self.context.reauthorize()
                    yield live
                    await self.context.between_events()
                    if (
                        live.status in ENDING_STATUSES
                        or live.fulfillment_status == FulfillmentStatus.DELIVERED
                    ):
                        return
        finally:
            subscription.close()
            await self.context.finish(commit=False)

    async def order_updates(self, after: object) -> AsyncIterator[OrderChange]:
        """Every status change of every order (ADMIN or PARTNER), from now on, or every one after `after` (a
        cursor of an earlier update) and then live: resuming from the last cursor misses nothing and repeats
        nothing."""
        await self._require_staff()
        position = decode_cursor(after) if after is not None else None
        return self._updates(position)

    async def _updates(self, position: str | None) -> AsyncIterator[OrderChange]:
        subscription = self._feed.subscribe(after=position, idle_seconds=SUBSCRIPTION_IDLE_SECONDS)
        try:
            async for batch in self._feed.changes(subscription):
                await self._require_staff(again=True)
                for change in batch:
                    await self._require_staff(again=True)
                    yield change
                    await self.context.between_events()
        finally:
            subscription.close()
            await self.context.finish(commit=False)

    async def _require_staff(self, *, again: bool = False) -> None:
        principal = await (self.context.reauthorize() if again else self.context.require_principal())
        if not principal.has_any_role(Role.ADMIN, Role.PARTNER):
            raise Forbidden("Order updates need the ADMIN or PARTNER role.")

    @property
    def _feed(self) -> OrderFeed:
        return self.state.feed
