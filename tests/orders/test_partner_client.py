"""examples/partner_client.py as a partner runs it: a real process following `orderUpdates` of the orders
subgraph over WebSocket, stopped and restarted, or cut off by a restarting server; it misses no update and
prints none twice."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from orders_shop import Shop
from redis.asyncio import Redis

from shared.app import create_subgraph_app
from shared.outbox import stream_name
from shared.testing import ServerThread
from subgraphs import registry
from subgraphs.orders.feed import encode_cursor

CLIENT = Path(__file__).resolve().parents[2] / "examples" / "partner_client.py"
SAGA = ["PENDING", "INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "CONFIRMED"]


class PartnerProcess:
    def __init__(self, url: str, token: str, cursor_file: Path) -> None:
        """`cursor_file` holds where to start (`stream_tail`), so no update can fall before the start."""
        self.args = [str(CLIENT), "--url", f"{url}/graphql", "--token", token]
        self.args += ["--cursor-file", str(cursor_file), "--max-backoff", "1"]
        self.process: asyncio.subprocess.Process | None = None
        self.log: list[str] = []
        self._stderr: asyncio.Task[None] | None = None
        self._logged = asyncio.Event()

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *self.args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        self._stderr = asyncio.create_task(self._read_stderr())
        await self.wait_subscribed(0)

    async def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        async for line in self.process.stderr:
            self.log.append(line.decode().rstrip())
            self._logged.set()

    async def wait_subscribed(self, times: int, seconds: float = 15.0) -> None:
        """Until the client has subscribed more than `times` times (its stderr says so)."""
        async with asyncio.timeout(seconds):
            while sum("subscribed" in line for line in self.log) <= times:
                self._logged.clear()
                await self._logged.wait()

    async def updates(self, count: int, seconds: float = 30.0) -> list[dict[str, Any]]:
        assert self.process is not None and self.process.stdout is not None
        lines = []
        async with asyncio.timeout(seconds):
            while len(lines) < count:
                lines.append(json.loads(await self.process.stdout.readline()))
        return lines

    async def stop(self) -> list[dict[str, Any]]:
        """SIGTERM; what it printed after the updates already read; its exit code must be 0."""
        assert self.process is not None and self.process.stdout is not None
        self.process.send_signal(signal.SIGTERM)
        rest = await self.process.stdout.read()
        assert await asyncio.wait_for(self.process.wait(), 10) == 0, self.log
        if self._stderr is not None:
            await self._stderr
        return [json.loads(line) for line in rest.decode().splitlines()]

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


@pytest.fixture
async def partner_processes() -> AsyncIterator[list[PartnerProcess]]:
    processes: list[PartnerProcess] = []
    yield processes
    for process in processes:
        process.kill()


async def stream_tail(shop: Shop, redis: Redis) -> str:
    """The cursor of the orders stream's newest entry, as `orderUpdates` encodes cursors."""
    stream = stream_name(shop.gql.stack.settings["orders"].redis_prefix, "orders")
    newest = await redis.xrevrange(stream, count=1)
    return encode_cursor(newest[0][0].decode() if newest else "0-0")


def expect_every_change_once(updates: list[dict[str, Any]], order_ids: set[str]) -> None:
    seen = [(update["order"]["id"], update["status"]) for update in updates]
    assert len(seen) == len(set(seen)), "an update was printed twice"
    assert {order_id for order_id, _ in seen} == order_ids
    for order_id in order_ids:
        assert [status for oid, status in seen if oid == order_id] == SAGA


async def place_orders(shop: Shop, product: str, count: int) -> set[str]:
    placed = await asyncio.gather(*(shop.place(shop.customer(), [(product, 1)]) for _ in range(count)))
    return {response.ok()["placeOrder"]["id"] for response in placed}


async def test_stopped_and_restarted_client_prints_every_update_once(
    shop: Shop, tmp_path: Path, partner_processes: list[PartnerProcess], redis: Redis
) -> None:
    # Given the partner client following the orders subgraph, having printed the 20 changes of 5 orders
    token = shop.issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    product = await shop.product(stock=50)
    cursor_file = tmp_path / "partner.cursor"
    cursor_file.write_text(await stream_tail(shop, redis))
    client = PartnerProcess(shop.gql.stack.url("orders"), token, cursor_file)
    partner_processes.append(client)
    await client.start()
    before = await place_orders(shop, product, 5)
    printed = await client.updates(20)

    # When it is stopped, 5 more orders go through meanwhile, and it is started again
    printed += await client.stop()
    during = await place_orders(shop, product, 5)
    restarted = PartnerProcess(shop.gql.stack.url("orders"), token, cursor_file)
    partner_processes.append(restarted)
    await restarted.start()
    printed += await restarted.updates(20)
    printed += await restarted.stop()

    # Then it resumed from its cursor file: every change of the 10 orders printed exactly once
    assert restarted.log[0].endswith(f"subscribed after cursor {printed[19]['cursor']}")
    expect_every_change_once(printed, before | during)
    assert cursor_file.read_text() == printed[-1]["cursor"]


async def test_client_reconnects_after_the_server_restarts_and_misses_nothing(
    shop: Shop, tmp_path: Path, partner_processes: list[PartnerProcess], api: Any, redis: Redis
) -> None:
    # Given the client following an orders server of its own
    token = shop.issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    product = await shop.product(stock=50)
    settings = api.settings["orders"]
    server = ServerThread(create_subgraph_app(registry.load("orders"), settings)).start()
    try:
        cursor_file = tmp_path / "partner.cursor"
        cursor_file.write_text(await stream_tail(shop, redis))
        client = PartnerProcess(server.url, token, cursor_file)
        partner_processes.append(client)
        await client.start()
        before = await place_orders(shop, product, 3)
        printed = await client.updates(12)

        # When that server goes away while 3 more orders go through (placed on the stack's orders), and
        # comes back at the same address
        await asyncio.to_thread(server.stop)
        during = await place_orders(shop, product, 3)
        server = ServerThread(
            create_subgraph_app(registry.load("orders"), settings), port=server.port
        ).start()

        # Then the client reconnects by itself and resumes from its cursor
        await client.wait_subscribed(1)
        printed += await client.updates(12)
        printed += await client.stop()
    finally:
        await asyncio.to_thread(server.stop)

    assert any("connection lost" in line or "reconnecting" in line for line in client.log)
    expect_every_change_once(printed, before | during)
