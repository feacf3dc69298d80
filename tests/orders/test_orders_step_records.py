"""The saga's one-statement writes: a new order with everything that goes with it, and a step's record, each
all or nothing (a statement that finds its order taken writes none of the rows that go with it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, pool, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from myshop.testing import scratch_database
from subgraphs.orders import repository
from subgraphs.orders.models import (
    Order,
    OrderItem,
    OrderStatus,
    OrderStatusChange,
    SagaState,
    SagaStep,
    outbox,
)
from subgraphs.orders.settings import OrdersSettings


def _values(user_id: uuid.UUID, key: str, owner: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "idempotency_key": key,
        "request_hash": "0" * 64,
        "status": OrderStatus.PENDING,
        "currency": "USD",
        "payment_method": "tok_approve",
        "total_amount": 2400,
        "subtotal_amount": 2400,
        "discounts": [],
        "tax_lines": [],
        "saga_state": SagaState.RUNNING,
        "lease_owner": owner,
        "lease_until": datetime.now(UTC) + timedelta(minutes=5),
    }


def _items(order_id: uuid.UUID) -> list[OrderItem]:
    return [
        OrderItem(
            order_id=order_id,
            line=line,
            product_id=uuid.uuid4(),
            variant_id=uuid.uuid4(),
            product_name=f"Mug {line}",
            sku=None,
            selected_options=[{"name": "Size", "value": "M"}],
            quantity=line,
            unit_price_amount=1200,
            currency="USD",
            discount_amount=0,
            tax_amount=0,
            total_amount=1200 * line,
            tax_class="standard",
            tax_rate_bp=0,
        )
        for line in (1, 2)
    ]


async def _place(engine: AsyncEngine, values: dict[str, Any]) -> Order | None:
    draft = Order(id=uuid.uuid4(), **values)
    placed = outbox.event("OrderPlaced", {"orderId": draft.id}, aggregate_id=draft.id)
    async with engine.begin() as connection:
        return await repository.insert_placed(
            connection, draft, values, _items(draft.id), ("reserve", "STARTED"), [placed]
        )


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {
            table.name: (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (
                Order.__table__,
                OrderItem.__table__,
                OrderStatusChange.__table__,
                SagaStep.__table__,
                outbox.table,
            )
        }


async def test_an_order_placed_twice_with_one_key_is_written_once_with_its_lines_history_step_and_event() -> (
    None
):
    async with scratch_database("orders", OrdersSettings().postgres_url) as url:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            # Given an order placed with a key
            values = _values(uuid.uuid4(), "key-1", "me")
            first = await _place(engine, values)
            assert first is not None and first.status == OrderStatus.PENDING and first.created_at is not None

            # When the same user places again with that key
            second = await _place(engine, values)

            # Then nothing more is written: one order, its 2 lines, 1 history row, 1 step, 1 event
            assert second is None
            assert await _counts(engine) == {
                "orders": 1,
                "order_items": 2,
                "order_status_history": 1,
                "saga_steps": 1,
                "outbox": 1,
            }
            async with engine.connect() as connection:
                step = (await connection.execute(select(SagaStep.__table__))).one()
                lines = (await connection.execute(select(OrderItem.__table__))).all()
            assert (step.step, step.status, step.attempts) == ("reserve", "STARTED", 1)
            assert sorted(line.quantity for line in lines) == [1, 2]
            assert all(line.selected_options == [{"name": "Size", "value": "M"}] for line in lines)
        finally:
            await engine.dispose()


async def test_a_step_recorded_after_another_process_took_the_lease_writes_nothing() -> None:
    async with scratch_database("orders", OrdersSettings().postgres_url) as url:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            # Given a placed order whose saga another process leases now
            order = await _place(engine, _values(uuid.uuid4(), "key-2", "other"))
            assert order is not None
            before = await _counts(engine)
            steps = [("reserve", "DONE", "r1 RESERVED", False), ("charge", "STARTED", None, True)]
            changed = outbox.event("OrderStatusChanged", {"orderId": order.id}, aggregate_id=order.id)

            # When this process records the reserve step done
            async with engine.begin() as connection:
                lost = await repository.advance_recorded(
                    connection,
                    order.id,
                    "me",
                    status=OrderStatus.INVENTORY_RESERVED,
                    done=False,
                    steps=steps,
                    events=[changed],
                )

            # Then nothing is written: no status, no step, no history row, no event
            assert lost is None
            assert await _counts(engine) == before

            # While the lease holder's record writes all of it, its events in the order given
            confirmed = outbox.event("OrderConfirmed", {"orderId": order.id}, aggregate_id=order.id)
            async with engine.begin() as connection:
                updated = await repository.advance_recorded(
                    connection,
                    order.id,
                    "other",
                    status=OrderStatus.INVENTORY_RESERVED,
                    done=False,
                    steps=steps,
                    events=[changed, confirmed],
                )
            assert updated is not None and updated.status == OrderStatus.INVENTORY_RESERVED
            assert updated.lease_owner == "other" and updated.saga_state == SagaState.RUNNING
            async with engine.connect() as connection:
                recorded = {
                    row.step: (row.status, row.attempts, row.detail)
                    for row in await connection.execute(select(SagaStep.__table__))
                }
                events = (
                    await connection.execute(select(outbox.table.c.event_type).order_by(outbox.table.c.id))
                ).scalars()
                event_types = list(events)
            assert recorded == {"reserve": ("DONE", 1, "r1 RESERVED"), "charge": ("STARTED", 1, None)}
            assert event_types == ["OrderPlaced", "OrderStatusChanged", "OrderConfirmed"]
        finally:
            await engine.dispose()
