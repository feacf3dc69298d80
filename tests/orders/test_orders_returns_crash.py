"""Crash recovery of a return: the orders process killed with SIGKILL while the refund of a received return
is in flight, then started again. Its recovery worker (or another replica's) must finish the return with one
refund and one restock, whether the refund call died before reaching payments or after payments refunded."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventually import eventually
from orders_shop import Shop
from returns_shop import RECEIVE, Returns
from test_orders_crash import ChargeGate, OrdersProcess, serve_gate

pytestmark = pytest.mark.slow


async def receive_through(url: str, token: str, return_id: str) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        await client.post(
            f"{url}/graphql",
            json={"query": RECEIVE, "variables": {"id": return_id}},
            headers={"Authorization": f"Bearer {token}"},
        )


@pytest.mark.parametrize("forward_first", [False, True], ids=["killed-before-refund", "killed-after-refund"])
async def test_sigkill_mid_return_refunds_and_restocks_exactly_once(
    shop: Shop, api: Any, tmp_path: Path, forward_first: bool
) -> None:
    # Given an approved return of 2 delivered units at 7.00
    returns = Returns(shop)
    product = await shop.product(price=700, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 3)])
    await returns.deliver(order_id, [(1, 3)])
    requested = await returns.request(customer.token, order_id, [(1, 2)])
    await returns.approve(requested["id"])
    return_id = requested["id"]

    # When a real orders process receives it and is killed while its refund call is held
    gate = ChargeGate(
        f"{api.url('payments')}/graphql", forward_first=forward_first, marker=b"refundPaymentPartially"
    )
    async with serve_gate(gate) as gate_url:
        first = OrdersProcess(api, gate_url, tmp_path / "orders-1.log")
        try:
            await first.start()
            receiving = asyncio.create_task(receive_through(first.url, shop.admin, return_id))
            await gate.wait_for(1)
            assert await returns.steps(return_id) == {"refund": ("STARTED", 1)}
            first.kill()
            await asyncio.gather(receiving, return_exceptions=True)
        finally:
            first.stop()
        await gate.release(1)
        refunded_before_restart = await returns.partial_refunds(order_id)
        assert len(refunded_before_restart) == (1 if forward_first else 0)
        # ... and started again
        second = OrdersProcess(api, f"{api.url('payments')}/graphql", tmp_path / "orders-2.log")
        try:
            await second.start()
            status = await eventually(
                lambda: shop.rows(
                    "orders", "SELECT status FROM returns WHERE id = :id", id=uuid.UUID(return_id)
                ),
                lambda rows: rows == [{"status": "REFUNDED"}],
                within=30,
                every=0.2,
                what="the return refunded",
            )
        finally:
            second.stop()

    # Then it is REFUNDED with one refund and one restock; the refund was called again and acted once
    assert status == [{"status": "REFUNDED"}]
    assert await returns.partial_refunds(order_id) == [
        {"key": f"return:{return_id}:refund", "amount": 1400, "partial": True}
    ]
    assert await shop.stock(product) == {"available": 9, "reserved": 0, "onHand": 9}
    sql = "SELECT count(*) AS n FROM stock_movements WHERE variant_id = :id AND reason = :reason"
    restocks = await shop.rows("inventory", sql, id=uuid.UUID(product), reason=f"return {return_id}")
    assert restocks == [{"n": 1}]
    steps = await returns.steps(return_id)
    assert steps["refund"] == ("DONE", 2) and steps["restock"][0] == "DONE"
    assert [event for event, _ in await returns.events(return_id)][-1] == "ReturnRefunded"
