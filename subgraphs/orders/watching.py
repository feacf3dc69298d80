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
from shared.ids import parse_uuid
from subgraphs.orders import repository
from subgraphs.orders.feed import OrderChange, OrderFeed, decode_cursor
from subgraphs.orders.models import FINAL_STATUSES
from subgraphs.orders.service import OrderService

# A subscription with nothing to send re-checks its caller's token this often.
SUBSCRIPTION_IDLE_SECONDS = 5.0


class OrderWatch(OrderService):
    async def watch_order(self, raw_id: object) -> AsyncIterator[OrderChange]:
        """The story of one order (its customer, ADMIN or PARTNER): the changes it already went through,
        from its history, then each later one as it happens; it ends when the order is CONFIRMED, CANCELLED
        or FAILED (at once, after its history, when it already is)."""
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
            if previous in FINAL_STATUSES:
                return
            async for batch in self._feed.changes(subscription):
                await self.context.reauthorize()
                for live in batch:
                    if live.status in told:
                        continue
                    told.add(live.status)
                    await self.context.reauthorize()
                    yield live
                    await self.context.between_events()
                    if live.status in FINAL_STATUSES:
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
