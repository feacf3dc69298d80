"""Benchmark of subscriptions through the router (router/execution/subscription.py, router/http/websocket.py).

`--subscribers` WebSocket clients (graphql-transport-ws) subscribe to `orderUpdates { cursor status
changedAt }` first through the router (a process over a composed supergraph), then (the reference, same run)
straight to the subgraph; events are then published, and every subscriber must receive every one. Reports,
per mode: events delivered, latency from the event's `changedAt` to the client's receipt (p50/p99), the
router's RSS growth per open subscription (KiB), and the router/direct latency ratio.

Sources (`--source`):
- `standin` (default): bench/standin_orders.py, a process fanning events out from memory (no database): the
  subscription path itself. `--events` events, 10 ms apart.
- `orders`: the real stack (products, inventory, payments, orders on real databases), a partner's feed over
  the committed supergraph; `--events / 4` orders are placed (4 status changes each).

    .venv/bin/python bench/subscriptions.py [--subscribers 500] [--events 100] [--source standin|orders]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import aiohttp
import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUN = uuid.uuid4().hex[:6]
os.environ.setdefault("MYSHOP_DATA_DIR", tempfile.mkdtemp(prefix="myshop-bench-"))
os.environ["MYSHOP_DATABASE_PREFIX"] = f"myshop_bench{RUN}_"
os.environ["MYSHOP_REDIS_PREFIX"] = f"bench:{RUN}:"
os.environ["MYSHOP_LOG_LEVEL"] = "WARNING"
# No users process: services verify tokens with the run's own key ring; the router passes tokens on.
os.environ["MYSHOP_JWKS_URL"] = ""
os.environ["MYSHOP_SERVICE_TOKEN_URL"] = ""
os.environ["MYSHOP_ROUTER_JWKS_URL"] = ""
SERVICES = ["products", "inventory", "payments", "orders"]
for _name in [*SERVICES, "router", "standin"]:
    with socket.socket() as _sock:
        _sock.bind(("127.0.0.1", 0))
        os.environ[f"MYSHOP_{_name.upper()}_PORT"] = str(_sock.getsockname()[1])

from measure import percentile  # noqa: E402

from myshop import devstack, migrations  # noqa: E402
from shared.auth import KeyRing, TokenIssuer  # noqa: E402
from shared.auth.keys import generate_key_file  # noqa: E402
from shared.composition import compose  # noqa: E402
from shared.settings import ServiceSettings  # noqa: E402

CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: "bench") { id } }'
PLACE = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"
UPDATES = "subscription { orderUpdates { cursor status changedAt } }"
EMIT = "mutation($n: Int!) { emit(count: $n, gap: 0.01) }"


async def gql(client: aiohttp.ClientSession, url: str, query: str, variables: dict, token: str) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    async with client.post(url, json={"query": query, "variables": variables}, headers=headers) as resp:
        body = await resp.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


class Subscriber:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[object] = []
        self.ready = asyncio.Event()

    async def run(
        self, client: aiohttp.ClientSession, url: str, token: str, expected: int, stop: asyncio.Event
    ) -> None:
        ws_url = url.replace("http://", "ws://")
        async with client.ws_connect(ws_url, protocols=("graphql-transport-ws",), max_msg_size=0) as ws:
            await ws.send_str(
                orjson.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                ).decode()
            )
            ack = orjson.loads((await ws.receive(timeout=30)).data)
            assert ack["type"] == "connection_ack", ack
            await ws.send_str(
                orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": UPDATES}}).decode()
            )
            self.ready.set()
            while len(self.latencies) < expected and not stop.is_set():
                receive = asyncio.ensure_future(ws.receive())
                stopped = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait((receive, stopped), return_when=asyncio.FIRST_COMPLETED)
                if receive not in done:
                    receive.cancel()
                    stopped.cancel()
                    break
                stopped.cancel()
                message = receive.result()
                received = time.time()
                if message.type is not aiohttp.WSMsgType.TEXT:
                    self.errors.append(message.type)
                    break
                frame = orjson.loads(message.data)
                if frame["type"] == "ping":
                    await ws.send_str('{"type":"pong"}')
                    continue
                if frame["type"] != "next" or frame["payload"].get("errors"):
                    self.errors.append(frame)
                    continue
                changed = datetime.fromisoformat(frame["payload"]["data"]["orderUpdates"]["changedAt"])
                self.latencies.append(received - changed.timestamp())


async def phase(
    name: str,
    url: str,
    token: str,
    subscribers: int,
    expected: int,
    publish: Callable[[aiohttp.ClientSession], Awaitable[None]],
    router_pid: int | None,
) -> dict:
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as client:
        router = psutil.Process(router_pid) if router_pid else None
        rss_before = router.memory_info().rss if router else 0
        subs = [Subscriber() for _ in range(subscribers)]
        tasks = []
        for index, sub in enumerate(subs):
            tasks.append(asyncio.create_task(sub.run(client, url, token, expected, stop)))
            if index % 50 == 49:
                await asyncio.sleep(0.05)  # connect in waves: the accept queues of both servers are finite
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in subs)), 120)
        await asyncio.sleep(3.0)  # every subscription reaches the feed ("from now on")
        rss_open = router.memory_info().rss if router else 0
        started = time.perf_counter()
        await publish(client)
        await asyncio.wait(tasks, timeout=120)  # each ends once it has every event
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [value for s in subs for value in s.latencies]
    complete = sum(1 for s in subs if len(s.latencies) >= expected)
    errors = sum(len(s.errors) for s in subs)
    samples = {str(e)[:300] for s in subs for e in s.errors}
    for sample in list(samples)[:3]:
        print(f"{name}: error sample: {sample}")
    return {
        "name": name,
        "delivered": len(latencies),
        "expected": expected * subscribers,
        "complete": complete,
        "errors": errors,
        "p50": percentile(latencies, 50) if latencies else float("nan"),
        "p99": percentile(latencies, 99) if latencies else float("nan"),
        "seconds": elapsed,
        "rss_kib_per_sub": (rss_open - rss_before) / 1024 / subscribers if router else None,
    }


def report(title: str, results: list[dict]) -> None:
    print(title)
    print(
        f"{'mode':<7} {'delivered':>15} {'complete':>9} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'seconds':>8} {'router RSS KiB/sub':>19}"
    )
    for r in results:
        rss = f"{r['rss_kib_per_sub']:.1f}" if r["rss_kib_per_sub"] is not None else "-"
        print(
            f"{r['name']:<7} {r['delivered']:>7}/{r['expected']:<7} {r['complete']:>9} {r['errors']:>6} "
            f"{r['p50'] * 1000:>8.1f} {r['p99'] * 1000:>8.1f} {r['seconds']:>8.1f} {rss:>19}"
        )
    via, direct = results
    p50, p99 = via["p50"] / direct["p50"], via["p99"] / direct["p99"]
    print(f"router/direct latency: p50 {p50:.2f}x, p99 {p99:.2f}x")


def start_standin(port: int, logs: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "uvicorn", "bench.standin_orders:app", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--ws", "websockets", "--log-level", "warning"]
    with (logs / "standin.log").open("ab") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def run_standin(args: argparse.Namespace, logs: Path, env: dict[str, str]) -> None:
    port = int(os.environ["MYSHOP_STANDIN_PORT"])
    url = f"http://127.0.0.1:{port}/graphql"
    standin = start_standin(port, logs, env)
    started: list[devstack.ServiceProcess] = []
    try:
        from bench.standin_orders import schema

        supergraph = logs / "standin-supergraph.graphql"
        supergraph.write_text(compose([("orders", url, schema.as_str())], repo_root=ROOT))
        router = devstack.start_router(supergraph, {"orders": url}, logs, env)
        started.append(router)
        devstack.wait_ready(router, path="/health")

        async def publish(client: aiohttp.ClientSession) -> None:
            await gql(client, url, EMIT, {"n": args.events}, "")

        results = [
            await phase(name, target, "", args.subscribers, args.events, publish, pid)
            for name, target, pid in (
                ("router", f"{router.url}/graphql", router.process.pid),
                ("direct", url, None),
            )
        ]
        report(
            f"{args.subscribers} WebSocket subscribers of the stand-in's orderUpdates, "
            f"{args.events} events each",
            results,
        )
    finally:
        devstack.stop_services(started)
        standin.terminate()
        standin.wait(10)


async def run_orders(
    args: argparse.Namespace, common: ServiceSettings, logs: Path, env: dict[str, str]
) -> None:
    keys = KeyRing.load(private_key_pem=None, keys_dir=common.keys_dir, retired_public_pem=None, create=False)
    issuer = TokenIssuer(keys, issuer=common.jwt_issuer, audience=common.jwt_audience, ttl_seconds=3600)
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    customer = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token
    partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    env = {**env, **devstack.peer_env(SERVICES)}
    os.environ.update(env)
    started: list[devstack.ServiceProcess] = []
    await devstack.migrate(SERVICES, log=lambda _line: None)
    try:
        for name in SERVICES:
            process = devstack.start_service(name, logs, env)
            started.append(process)
            devstack.wait_ready(process)
        url = {process.name: f"{process.url}/graphql" for process in started}
        router = devstack.start_router(ROOT / "schema" / "supergraph.graphql", url, logs, env)
        started.append(router)
        devstack.wait_ready(router, path="/health")
        async with aiohttp.ClientSession() as client:
            product_input = {"sku": f"SUBS-{RUN}".upper(), "name": "Bench teapot",
                             "price": {"amount": 990, "currency": "USD"}, "category": "Bench"}  # fmt: skip
            created = await gql(client, url["products"], CREATE, {"input": product_input}, admin)
            product = created["createProduct"]["id"]
            await gql(client, url["inventory"], ADJUST, {"id": product, "d": 1_000_000}, admin)
        orders = max(1, args.events // 4)

        async def publish(client: aiohttp.ClientSession) -> None:
            for first in range(0, orders, 5):
                await asyncio.gather(
                    *(
                        gql(
                            client,
                            url["orders"],
                            PLACE,
                            {
                                "input": {
                                    "items": [{"productId": product, "quantity": 1}],
                                    "paymentMethod": "tok_approve",
                                    "idempotencyKey": uuid.uuid4().hex,
                                }
                            },
                            customer,
                        )
                        for _ in range(min(5, orders - first))
                    )
                )

        results = [
            await phase(name, target, partner, args.subscribers, orders * 4, publish, pid)
            for name, target, pid in (
                ("router", f"{router.url}/graphql", router.process.pid),
                ("direct", url["orders"], None),
            )
        ]
        report(
            f"{args.subscribers} WebSocket subscribers of orderUpdates (partner), {orders} orders "
            f"= {orders * 4} events each",
            results,
        )
    finally:
        devstack.stop_services(started)
        for name in SERVICES:
            settings = devstack.service_settings(name)
            await migrations.drop_database(settings.postgres_url, settings.database_name)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--events", type=int, default=100, help="events every subscriber must receive")
    parser.add_argument("--source", choices=("standin", "orders"), default="standin")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    common = ServiceSettings()
    generate_key_file(common.keys_dir)
    logs = Path(common.data_dir) / "logs"
    env = dict(os.environ)
    if args.source == "standin":
        await run_standin(args, logs, env)
    else:
        await run_orders(args, common, logs, env)


if __name__ == "__main__":
    asyncio.run(main())
