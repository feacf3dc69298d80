"""A shop's order history, written fast into an orders database through orders' own code (its repository and
`saga.change_status`, which records each transition and writes the outbox events), and the figures the
analytics definitions give when computed straight from the orders tables.

The history has phases separated by pauses; a boundary taken in a pause splits both the orders' own times
(`created_at`, the status history's `at`) and their events' times the same way, so a window between boundaries
is answered exactly by both sides.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from subgraphs.orders import repository
from subgraphs.orders.events import OrderEvent
from subgraphs.orders.models import Order, OrderStatus, SagaState, outbox
from subgraphs.orders.saga import change_status

BATCH = 50  # orders per transaction


@dataclass(frozen=True)
class CatalogItem:
    product_id: uuid.UUID
    price: int
    currency: str


@dataclass
class History:
    """Generates orders with a seeded random mix of outcomes; remembers which orders can still move."""

    sessions: async_sessionmaker[AsyncSession]
    seed: int = 6
    rng: random.Random = field(init=False)
    catalog: list[CatalogItem] = field(init=False)
    customers: list[uuid.UUID] = field(init=False)
    pending: list[uuid.UUID] = field(default_factory=list)  # INVENTORY_RESERVED, to confirm or fail later
    confirmed: list[uuid.UUID] = field(default_factory=list)  # CONFIRMED, may be cancelled later
    boundaries: list[datetime] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.catalog = [
            CatalogItem(uuid.UUID(int=self.rng.getrandbits(128)), self.rng.randint(199, 25_000), currency)
            for currency in ["USD"] * 20 + ["EUR"] * 12
        ]
        self.customers = [uuid.UUID(int=self.rng.getrandbits(128)) for _ in range(150)]

    async def boundary(self) -> datetime:
        """A time between everything written so far and everything written next."""
        await asyncio.sleep(0.02)
        moment = datetime.now(UTC)
        await asyncio.sleep(0.02)
        self.boundaries.append(moment)
        return moment

    async def phase(self, new_orders: int, *, settle: float, cancel: float) -> None:
        """Place `new_orders` orders with mixed outcomes; move a share `settle` of the orders left pending
        (mostly to CONFIRMED, some FAILED) and cancel a share `cancel` of the confirmed ones."""
        to_settle = self._take(self.pending, settle)
        to_cancel = self._take(self.confirmed, cancel)
        work: list[tuple[str, Any]] = [("new", None)] * new_orders
        work += [("settle", order_id) for order_id in to_settle]
        work += [("cancel", order_id) for order_id in to_cancel]
        self.rng.shuffle(work)
        for start in range(0, len(work), BATCH):
            async with self.sessions() as session, session.begin():
                for kind, order_id in work[start : start + BATCH]:
                    if kind == "new":
                        await self._new_order(session)
                    elif kind == "settle":
                        await self._settle(session, order_id)
                    else:
                        await self._cancel_after_confirmation(session, order_id)

    def _take(self, orders: list[uuid.UUID], share: float) -> list[uuid.UUID]:
        taken = self.rng.sample(orders, round(len(orders) * share))
        for order_id in taken:
            orders.remove(order_id)
        return taken

    async def _new_order(self, session: AsyncSession) -> None:
        currency = self.rng.choice(["USD", "USD", "EUR"])
        products = self.rng.sample(
            [item for item in self.catalog if item.currency == currency], self.rng.randint(1, 3)
        )
        lines = [(item, self.rng.randint(1, 3)) for item in products]
        total = sum(item.price * quantity for item, quantity in lines)
        user_id = self.rng.choice(self.customers)
        order = await repository.insert_order(
            session,
            {
                "user_id": user_id,
                "idempotency_key": uuid.uuid4().hex,
                "request_hash": "0" * 64,
                "status": OrderStatus.PENDING,
                "currency": currency,
                "total_amount": total,
                "payment_method": "tok_approve",
                "saga_state": SagaState.RUNNING,
            },
        )
        assert order is not None
        await repository.insert_items(
            session,
            [
                {
                    "order_id": order.id,
                    "line": number,
                    "product_id": item.product_id,
                    "product_name": f"Product {item.product_id.hex[:6]}",
                    "quantity": quantity,
                    "unit_price_amount": item.price,
                    "currency": currency,
                }
                for number, (item, quantity) in enumerate(lines, start=1)
            ],
        )
        await repository.add_history(session, order.id, OrderStatus.PENDING, None)
        await outbox.emit(
            session,
            OrderEvent.ORDER_PLACED,
            {
                "orderId": order.id,
                "userId": user_id,
                "total": total,
                "currency": currency,
                "items": [
                    {"productId": item.product_id, "quantity": quantity, "unitPrice": item.price}
                    for item, quantity in lines
                ],
            },
            aggregate_id=order.id,
        )
        outcome = self.rng.random()
        if outcome < 0.05:  # out of stock: cancelled before anything was reserved
            await self._end(session, order, OrderStatus.CANCELLED, "OUT_OF_STOCK", "Not enough stock.")
            return
        await self._move(session, order, OrderStatus.INVENTORY_RESERVED)
        if outcome < 0.13:
            await self._end(session, order, OrderStatus.CANCELLED, "PAYMENT_DECLINED", "Declined.")
        elif outcome < 0.17:
            await self._end(session, order, OrderStatus.FAILED, "STEP_TIMEOUT", "Timed out.")
        elif outcome < 0.30:
            self.pending.append(order.id)
        else:
            await self._confirm(session, order)

    async def _settle(self, session: AsyncSession, order_id: uuid.UUID) -> None:
        order = await self._locked(session, order_id)
        if self.rng.random() < 0.2:
            await self._end(session, order, OrderStatus.FAILED, "RESERVATION_RELEASED", "Expired.")
        else:
            await self._confirm(session, order)

    async def _confirm(self, session: AsyncSession, order: Order) -> None:
        await self._move(session, order, OrderStatus.PAYMENT_AUTHORIZED)
        await self._move(session, order, OrderStatus.CONFIRMED, saga_state=SagaState.DONE)
        self.confirmed.append(order.id)

    async def _cancel_after_confirmation(self, session: AsyncSession, order_id: uuid.UUID) -> None:
        order = await self._locked(session, order_id)
        await self._end(
            session, order, OrderStatus.CANCELLED, "CANCELLED_BY_CUSTOMER", "Cancelled by the customer."
        )

    async def _locked(self, session: AsyncSession, order_id: uuid.UUID) -> Order:
        order = await repository.get(session, order_id, lock=True)
        assert order is not None
        return order

    async def _end(
        self, session: AsyncSession, order: Order, status: OrderStatus, code: str, reason: str
    ) -> None:
        await self._move(
            session,
            order,
            status,
            reason=reason,
            saga_state=SagaState.DONE,
            final_status=status,
            failure_code=code,
            failure_reason=reason,
        )

    async def _move(
        self,
        session: AsyncSession,
        order: Order,
        status: OrderStatus,
        *,
        reason: str | None = None,
        **values: Any,
    ) -> None:
        """The orders service's own transition (history row and events); `order` is the session's object,
        which the UPDATE keeps current."""
        await change_status(session, order, status, reason, {"status": status, **values})
        assert order.status == status


# --- the figures, straight from the orders tables -------------------------------------------------------

WINDOWED = """
SELECT o.currency, o.total_amount, h.status,
       EXISTS (SELECT 1 FROM order_status_history c WHERE c.order_id = h.order_id AND c.status = 'CONFIRMED')
           AS was_confirmed
FROM order_status_history h JOIN orders o ON o.id = h.order_id
WHERE h.status IN ('CONFIRMED', 'CANCELLED', 'FAILED') AND h.at >= :start AND h.at < :end
"""
PLACED = (
    "SELECT currency, count(*) FROM orders WHERE created_at >= :start AND created_at < :end GROUP BY currency"
)
LINE_MOVES = """
SELECT i.product_id, i.currency,
       sum(CASE WHEN h.status = 'CONFIRMED' THEN 1 ELSE -1 END * i.quantity) AS units,
       sum(CASE WHEN h.status = 'CONFIRMED' THEN 1 ELSE -1 END * i.quantity * i.unit_price_amount) AS amount
FROM order_status_history h JOIN order_items i ON i.order_id = h.order_id
WHERE h.at >= :start AND h.at < :end
  AND (h.status = 'CONFIRMED'
       OR (h.status = 'CANCELLED' AND EXISTS (
           SELECT 1 FROM order_status_history c WHERE c.order_id = h.order_id AND c.status = 'CONFIRMED')))
GROUP BY i.product_id, i.currency
"""


def _money(per_currency: dict[str, int], currencies: list[str]) -> list[dict[str, Any]]:
    return [{"amount": per_currency.get(currency, 0), "currency": currency} for currency in currencies]


async def expected_sales(session: AsyncSession, start: datetime, end: datetime) -> dict[str, Any]:
    """salesSummary by its definitions, computed from the orders database."""
    window = {"start": start, "end": end}
    placed = {row[0]: int(row[1]) for row in await session.execute(text(PLACED), window)}
    confirmed: dict[str, int] = defaultdict(int)
    gross: dict[str, int] = defaultdict(int)
    refunded: dict[str, int] = defaultdict(int)
    counts = {"cancellations": 0, "refundedOrders": 0, "failedOrders": 0}
    currencies = set(placed)
    for currency, total, status, was_confirmed in await session.execute(text(WINDOWED), window):
        currencies.add(currency)
        if status == "CONFIRMED":
            confirmed[currency] += 1
            gross[currency] += total
        elif status == "CANCELLED":
            counts["cancellations"] += 1
            if was_confirmed:
                counts["refundedOrders"] += 1
                refunded[currency] += total
        else:
            counts["failedOrders"] += 1
    ordered = sorted(currencies)
    return {
        "orders": sum(placed.values()),
        "confirmedOrders": sum(confirmed.values()),
        **counts,
        "grossRevenue": _money(gross, ordered),
        "refunds": _money(refunded, ordered),
        "revenue": _money({c: gross[c] - refunded[c] for c in ordered}, ordered),
        "averageOrderValue": [
            # Half up: floor(gross / n + 1/2) in integers.
            {"amount": (2 * gross[c] + confirmed[c]) // (2 * confirmed[c]), "currency": c}
            for c in ordered
            if confirmed[c]
        ],
    }


async def expected_top_products(
    session: AsyncSession, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    """topProducts by its definitions, computed from the orders database."""
    per_product: dict[uuid.UUID, list[tuple[str, int, int]]] = defaultdict(list)
    for product_id, currency, units, amount in await session.execute(
        text(LINE_MOVES), {"start": start, "end": end}
    ):
        per_product[product_id].append((currency, int(units), int(amount)))
    ranked = sorted(
        ((sum(units for _, units, _ in moves), product_id) for product_id, moves in per_product.items()),
        key=lambda pair: (-pair[0], pair[1]),
    )
    return [
        {
            "product": {"id": str(product_id)},
            "unitsSold": units,
            "revenue": [
                {"amount": amount, "currency": currency}
                for currency, _, amount in sorted(per_product[product_id])
            ],
        }
        for units, product_id in ranked
        if units > 0
    ][:limit]
