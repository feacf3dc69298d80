"""Benchmark of the orders subscriptions' fan-out (`shared/fanout.py`): N partners on `orderUpdates` at once.

The orders subgraph runs as a process of its own on a scratch database holding a few orders; the benchmark
opens N graphql-transport-ws connections (each a PARTNER subscribed to `orderUpdates`), then XADDs E
`OrderStatusChanged` entries to the orders stream at a steady rate, as the outbox relay would. Reports the
delivery latency (XADD to receipt, every subscriber, every event: p50/p99/max), whether every subscriber got
every event once and in order, the orders process's CPU time and RSS, and Redis's client count (one stream
reader per process, not one per subscriber).

    .venv/bin/python bench/order_subscriptions.py [--subscribers 500] [--events 100] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUN = uuid.uuid4().hex[:6]
os.environ.setdefault("MYSHOP_DATA_DIR", tempfile.mkdtemp(prefix="myshop-bench-"))
os.environ["MYSHOP_DATABASE_PREFIX"] = f"myshop_bench{RUN}_"
os.environ["MYSHOP_REDIS_PREFIX"] = f"bench:{RUN}:"
os.environ["MYSHOP_LOG_LEVEL"] = "WARNING"
os.environ["MYSHOP_JWKS_URL"] = ""
os.environ["MYSHOP_SERVICE_TOKEN_URL"] = ""
with socket.socket() as _sock:
    _sock.bind(("127.0.0.1", 0))
    os.environ["MYSHOP_ORDERS_PORT"] = str(_sock.getsockname()[1])

from measure import percentile  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from myshop import devstack  # noqa: E402
from shared.auth import KeyRing, TokenIssuer  # noqa: E402
from shared.auth.keys import generate_key_file  # noqa: E402
from shared.outbox import Event, stream_name  # noqa: E402

UPDATES = "subscription { orderUpdates { cursor status order { id } } }"
ORDERS = 20


def redis_connections(process: psutil.Process) -> int:
    port = int(os.environ.get("MYSHOP_REDIS_URL", "redis://127.0.0.1:6379").rsplit(":", 1)[1].split("/")[0])
    return sum(1 for c in process.net_connections("tcp") if c.raddr and c.raddr.port == port)


async def subscriber(
    url: str, token: str, expected: int, sent_at: dict[str, float], out: list, subscribed: asyncio.Semaphore
) -> None:
    async with connect(url, subprotocols=["graphql-transport-ws"], max_queue=None) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(orjson.dumps(init).decode())
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": UPDATES}}).decode())
        subscribed.release()
        statuses = []
        while len(statuses) < expected:
            message = orjson.loads(await ws.recv())
            received = time.perf_counter()
            assert message["type"] == "next", message
            update = message["payload"]["data"]["orderUpdates"]
            statuses.append(update["status"])
            out.append(received - sent_at[update["order"]["id"] + update["status"]])
        await ws.send(orjson.dumps({"id": "1", "type": "complete"}).decode())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    args = parser.parse_args()

    settings = devstack.service_settings("orders")
    generate_key_file(settings.keys_dir)
    keys = KeyRing.load(
        private_key_pem=None, keys_dir=settings.keys_dir, retired_public_pem=None, create=False
    )
    issuer = TokenIssuer(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_seconds=3600)
    await devstack.migrate(["orders"], log=lambda _line: None)
    engine = create_async_engine(settings.effective_database_url)
    order_ids = [uuid.uuid4() for _ in range(ORDERS)]
    async with engine.begin() as conn:
        for order_id in order_ids:
            await conn.execute(
                text(
                    "INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, currency, "
                    "total_amount, payment_method, saga_state) VALUES (:id, :user, :key, 'h', 'PENDING', "
                    "'USD', 1000, 'tok_approve', 'DONE')"
                ),
                {"id": order_id, "user": uuid.uuid4(), "key": order_id.hex},
            )
    await engine.dispose()
    redis = Redis.from_url(settings.redis_url)
    stream = stream_name(settings.redis_prefix, "orders")
    logs = Path(settings.data_dir) / "logs"
    process = devstack.start_service("orders", logs, dict(os.environ))
    try:
        devstack.wait_ready(process, path="/health")
        server = psutil.Process(process.process.pid)
        url = process.url.replace("http://", "ws://") + "/graphql"
        clients_before = redis_connections(server)
        statuses = ["INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "CONFIRMED", "CANCELLED", "FAILED"]
        plan = [(order_ids[i % ORDERS], statuses[(i // ORDERS) % len(statuses)]) for i in range(args.events)]
        sent_at: dict[str, float] = {}
        results: list[list] = [[] for _ in range(args.subscribers)]
        partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
        started = time.perf_counter()
        subscribed = asyncio.Semaphore(0)
        tasks = [
            asyncio.create_task(subscriber(url, partner, args.events, sent_at, results[i], subscribed))
            for i in range(args.subscribers)
        ]
        for _ in range(args.subscribers):
            acquired = asyncio.ensure_future(subscribed.acquire())
            await asyncio.wait([acquired, *tasks], return_when=asyncio.FIRST_COMPLETED, timeout=30)
            if not acquired.done():
                failed = [task for task in tasks if task.done()]
                raise RuntimeError(f"a subscriber failed: {failed[0].exception() if failed else 'timeout'}")
        connect_seconds = time.perf_counter() - started
        await asyncio.sleep(1.0)  # every subscriber registered with the feed
        cpu_before = server.cpu_times()
        for order_id, status in plan:
            event = Event(
                id=uuid.uuid4(),
                type="OrderStatusChanged",
                producer="orders",
                version=1,
                occurred_at=datetime.now(UTC),
                payload={"orderId": str(order_id), "status": status, "previousStatus": "PENDING"},
                aggregate_id=str(order_id),
            )
            sent_at[str(order_id) + status] = time.perf_counter()
            await redis.xadd(stream, event.to_fields())
            await asyncio.sleep(1 / args.rate)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        cpu_after = server.cpu_times()
        clients_during = redis_connections(server)
        latencies = [value for result in results for value in result]
        cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        print(f"subscribers {args.subscribers}, events {args.events} at {args.rate:g}/s")
        print(f"  connect+subscribe all: {connect_seconds:.2f} s")
        print(
            f"  deliveries {len(latencies)} (expected {args.subscribers * args.events}); latency "
            f"p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms"
        )
        rss = server.memory_info().rss / 2**20
        print(f"  orders process: CPU {cpu:.2f} s for the events, RSS {rss:.0f} MiB")
        print(f"  orders' Redis connections: {clients_before} before the subscribers, {clients_during} after")
    finally:
        devstack.stop_services([process])
        await redis.delete(stream)
        await redis.aclose()
        from myshop import migrations

        await migrations.drop_database(settings.postgres_url, settings.database_name)


if __name__ == "__main__":
    asyncio.run(main())
