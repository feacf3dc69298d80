"""Crash recovery: the orders process killed with SIGKILL in the middle of sagas, then started again.

A small proxy between orders and payments holds the charge calls: either before they reach payments (the
process dies after the reservation, before the charge: the held calls are then dropped, never forwarded, so
payments has no row when the second process starts) or after payments charged (the process dies before it
learns the charge succeeded). The restarted process's recovery worker must bring every order to a final state
with the money and the stock adding up, and no step acting twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from eventually import eventually
from orders_shop import PLACE, Shop

from myshop.servers import free_port

pytestmark = pytest.mark.slow

LEASE_SECONDS = 2.0


class ChargeGate:
    """An HTTP proxy to payments that holds every chargePayment call, before forwarding it (and then drops it:
    the caller is dead by the time the gate opens) or after forwarding it."""

    def __init__(self, target: str, *, forward_first: bool, marker: bytes = b"chargePayment") -> None:
        self.target = target
        # The operation held (another test holds returns' refundPaymentPartially).
        self.marker = marker
        self.forward_first = forward_first
        self.held = 0
        self.finished = 0
        self.arrived = asyncio.Condition()
        self.open = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        is_charge = self.marker in body
        try:
            if is_charge and not self.forward_first:
                await self._hold()
                return web.Response(status=502, text="dropped by the test's gate")
            async with httpx.AsyncClient(timeout=30) as client:
                answer = await client.post(self.target, content=body, headers=headers)
            if is_charge:
                await self._hold()
            return web.Response(
                body=answer.content, status=answer.status_code, content_type="application/json"
            )
        finally:
            if is_charge:
                async with self.arrived:
                    self.finished += 1
                    self.arrived.notify_all()

    async def _hold(self) -> None:
        async with self.arrived:
            self.held += 1
            self.arrived.notify_all()
        await self.open.wait()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(20), self.arrived:
            await self.arrived.wait_for(lambda: self.held >= count)

    async def release(self, count: int) -> None:
        """Open the gate and wait until every held call has been answered (or dropped)."""
        self.open.set()
        async with asyncio.timeout(20), self.arrived:
            await self.arrived.wait_for(lambda: self.finished >= count)


async def alive(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@asynccontextmanager
async def serve_gate(gate: ChargeGate) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/graphql", gate.handle)
    app.router.add_get("/health", alive)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        gate.open.set()
        await runner.cleanup()


class OrdersProcess:
    """`myshop serve orders` as a real process, on this run's databases and services."""

    def __init__(self, api: Any, payments_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        users = api.url("users")
        self.env = {
            **os.environ,
            "MYSHOP_ORDERS_PORT": str(self.port),
            "MYSHOP_ORDERS_PRODUCTS_URL": f"{api.url('products')}/graphql",
            "MYSHOP_ORDERS_INVENTORY_URL": f"{api.url('inventory')}/graphql",
            "MYSHOP_ORDERS_PAYMENTS_URL": payments_url,
            "MYSHOP_JWKS_URL": f"{users}/.well-known/jwks.json",
            "MYSHOP_SERVICE_TOKEN_URL": f"{users}/oauth/token",
            "MYSHOP_ORDERS_SAGA_LEASE_SECONDS": str(LEASE_SECONDS),
            "MYSHOP_ORDERS_RECOVERY_INTERVAL_SECONDS": "0.3",
            "MYSHOP_ORDERS_STEP_TIMEOUT_SECONDS": "10",
        }
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: ASYNC220 (starting it is instant; waiting is async)
                [sys.executable, "-m", "myshop.cli", "serve", "orders"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        process = self.process

        async def ready(client: httpx.AsyncClient) -> bool:
            assert process.poll() is None, self.log.read_text()[-3000:]  # died: no use waiting
            try:
                return (await client.get(f"{self.url}/health/ready")).status_code == 200
            except httpx.HTTPError:
                return False

        async with httpx.AsyncClient(timeout=1) as client:
            await eventually(lambda: ready(client), within=30, every=0.1, what="orders ready")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def place_through(url: str, token: str, product: str, key: str) -> None:
    order_input = {
        "items": [{"productId": product, "quantity": 1}],
        "paymentMethod": "tok_approve",
        "idempotencyKey": key,
    }
    async with httpx.AsyncClient(timeout=60) as client:
        await client.post(
            f"{url}/graphql",
            json={"query": PLACE, "variables": {"input": order_input}},
            headers={"Authorization": f"Bearer {token}"},
        )


async def final_orders(shop: Shop, ids: list[str]) -> list[dict[str, Any]]:
    return await eventually(
        lambda: asyncio.gather(*(shop.order(order_id) for order_id in ids)),
        lambda orders: all(order["status"] in ("CONFIRMED", "CANCELLED", "FAILED") for order in orders),
        within=30,
        every=0.2,
        what="every order final",
    )


@pytest.mark.parametrize("forward_first", [False, True], ids=["killed-before-charge", "killed-after-charge"])
async def test_sigkill_mid_saga_recovers_every_order_without_acting_twice(
    shop: Shop, api: Any, tmp_path: Path, forward_first: bool
) -> None:
    # Given 3 customers whose sagas are held at the charge, in a real orders process
    product = await shop.product(price=700, stock=10)
    customers = [shop.customer() for _ in range(3)]
    gate = ChargeGate(f"{api.url('payments')}/graphql", forward_first=forward_first)
    async with serve_gate(gate) as gate_url:
        first = OrdersProcess(api, gate_url, tmp_path / "orders-1.log")
        try:
            await first.start()
            placing = [
                asyncio.create_task(place_through(first.url, c.token, product, f"crash-{i}"))
                for i, c in enumerate(customers)
            ]
            await gate.wait_for(len(customers))
            assert (await shop.stock(product))["reserved"] == 3  # after the reservation

            # When the process is killed there, and started again (its sagas' leases run out)
            first.kill()
            await asyncio.gather(*placing, return_exceptions=True)
        finally:
            first.stop()
        # What was held goes now (nothing waits for it): dropped before the charge, answered after it.
        await gate.release(len(customers))
        ids = [
            str(row["id"])
            for row in await shop.rows("orders", "SELECT id FROM orders ORDER BY idempotency_key")
        ]
        assert len(ids) == 3
        charged_before_restart = [await shop.payments_of(order_id) for order_id in ids]
        if forward_first:
            assert charged_before_restart == [[{"status": "CAPTURED", "amount": 700, "currency": "USD"}]] * 3
        else:  # no charge reached payments: recovery must make it
            assert charged_before_restart == [[]] * 3
        second = OrdersProcess(api, f"{api.url('payments')}/graphql", tmp_path / "orders-2.log")
        try:
            await second.start()
            orders = await final_orders(shop, ids)
        finally:
            second.stop()

    # Then every order is CONFIRMED, charged exactly once, and the stock moved exactly once per order
    assert [order["status"] for order in orders] == ["CONFIRMED"] * 3
    for order in orders:
        assert await shop.payments_of(order["id"]) == [
            {"status": "CAPTURED", "amount": 700, "currency": "USD"}
        ]
    assert await shop.stock(product) == {"available": 7, "reserved": 0, "onHand": 7}
    assert await shop.ledger_sums(product) == (7, 0)
    # one movement out of the shop per order: each confirmation acted once
    sql = "SELECT count(*) AS n FROM stock_movements WHERE variant_id = :id AND delta_on_hand < 0"
    assert await shop.rows("inventory", sql, id=uuid.UUID(product)) == [{"n": 3}]
    recovered = await shop.rows(
        "orders", "SELECT count(*) AS n FROM saga_steps WHERE step = 'charge' AND attempts = 2"
    )
    assert recovered == [{"n": 3}]  # each charge was called again after the crash, and acted once
