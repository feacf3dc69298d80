"""Benchmark of shared upstream subscriptions (router/execution/shared_subscriptions.py).

`--clients` WebSocket subscriptions to `orderUpdates { cursor status changedAt }` with one token go through a
router process over bench/standin_orders.py (events fanned out from memory), first with `subscription_dedup`
on, then off (the reference, same run: one subgraph subscription per client, as before). Reports per mode:
the router's open subgraph subscriptions (its /metrics) and the stand-in's open feeds, the router's RSS growth
(MiB, and KiB per client), and the time for `--events` events to reach every client.

    .venv/bin/python bench/subscriptions_dedup.py [--clients 1000] [--events 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MYSHOP_DATA_DIR", tempfile.mkdtemp(prefix="myshop-bench-"))
os.environ["MYSHOP_LOG_LEVEL"] = "WARNING"
os.environ["MYSHOP_ROUTER_JWKS_URL"] = ""
os.environ["MYSHOP_ROUTER_OPS__TOKEN"] = OPS_TOKEN = "bench-ops"
for _name in ("router", "standin"):
    with socket.socket() as _sock:
        _sock.bind(("127.0.0.1", 0))
        os.environ[f"MYSHOP_{_name.upper()}_PORT"] = str(_sock.getsockname()[1])

from shared.composition import compose  # noqa: E402

UPDATES = "subscription { orderUpdates { cursor status changedAt } }"
PER_CONNECTION = 100  # subscriptions per WebSocket (the router's default limit)


async def post(client: aiohttp.ClientSession, url: str, query: str) -> dict:
    async with client.post(url, json={"query": query}) as response:
        return await response.json()  # type: ignore[no-any-return]


async def upstreams(client: aiohttp.ClientSession, router: str) -> float:
    async with client.get(f"{router}/metrics", headers={"authorization": f"Bearer {OPS_TOKEN}"}) as response:
        text = await response.text()
    found = re.search(r'^myshop_router_subscription_upstreams_open\{subgraph="orders"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def start_router(supergraph: Path, standin: str, dedup: bool, logs: Path) -> subprocess.Popen[bytes]:
    """`myshop router` over the stand-in (without the repository's router.yaml: its rules name subgraphs
    the stand-in's supergraph does not have)."""
    env = {
        **os.environ,
        "MYSHOP_ROUTER_SUBSCRIPTION_DEDUP": str(dedup).lower(),
        "MYSHOP_ROUTER_SUBGRAPH_URLS": f"orders={standin}",
        "MYSHOP_LOG_JSON": "false",
    }
    port = os.environ["MYSHOP_ROUTER_PORT"]
    command = [sys.executable, "-m", "myshop.cli", "router", "--supergraph", str(supergraph)]
    command += ["--host", "127.0.0.1", "--port", port]
    with (logs / "router.log").open("ab") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_ready(client: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"the router exited with {process.returncode}")
        try:
            async with client.get(url + "/health") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("the router did not start")


async def phase(dedup: bool, args: argparse.Namespace, supergraph: Path, standin: str, logs: Path) -> dict:
    spawned = start_router(supergraph, standin, dedup, logs)
    url = f"http://127.0.0.1:{os.environ['MYSHOP_ROUTER_PORT']}"
    try:
        process = psutil.Process(spawned.pid)
        async with aiohttp.ClientSession() as client:
            await wait_ready(client, url, spawned)
            await post(client, f"{url}/graphql", "{ subscribers }")  # warm: the first request's imports
            rss_before = process.memory_info().rss
            sockets = []
            for start in range(0, args.clients, PER_CONNECTION):
                ws = await client.ws_connect(
                    url.replace("http://", "ws://") + "/graphql", protocols=("graphql-transport-ws",)
                )
                await ws.send_str('{"type":"connection_init","payload":{"Authorization":"Bearer partner"}}')
                await ws.receive()
                for n in range(start, min(start + PER_CONNECTION, args.clients)):
                    payload = {"id": str(n), "type": "subscribe", "payload": {"query": UPDATES}}
                    await ws.send_str(orjson.dumps(payload).decode())
                sockets.append(ws)
            feeds_wanted = 1 if dedup else args.clients
            for _ in range(1200):  # the stand-in's feeds open (polled: they are another process's)
                if (await post(client, standin, "{ subscribers }"))["data"]["subscribers"] >= feeds_wanted:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # the last subscribes joined
            held = await upstreams(client, url)
            feeds = (await post(client, standin, "{ subscribers }"))["data"]["subscribers"]
            rss_open = process.memory_info().rss
            started = time.perf_counter()
            await post(client, standin, f"mutation {{ emit(count: {args.events}, gap: 0.01) }}")

            async def drain(ws: aiohttp.ClientWebSocketResponse, count: int) -> None:
                seen = 0
                while seen < count:
                    message = await ws.receive(timeout=60)
                    if orjson.loads(message.data).get("type") == "next":
                        seen += 1

            per_socket = [min(PER_CONNECTION, args.clients - i * PER_CONNECTION) for i in range(len(sockets))]
            await asyncio.gather(
                *(drain(ws, n * args.events) for ws, n in zip(sockets, per_socket, strict=True))
            )
            seconds = time.perf_counter() - started
            for ws in sockets:
                await ws.close()
        grown = rss_open - rss_before
        return {
            "mode": "dedup on" if dedup else "dedup off (reference)",
            "upstreams": held,
            "feeds": feeds,
            "rss_mib": grown / 2**20,
            "kib_per_client": grown / 1024 / args.clients,
            "seconds": seconds,
        }
    finally:
        spawned.terminate()
        spawned.wait(10)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=10, help="events every client must receive")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    logs = Path(os.environ["MYSHOP_DATA_DIR"]) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    port = int(os.environ["MYSHOP_STANDIN_PORT"])
    standin = f"http://127.0.0.1:{port}/graphql"
    command = [sys.executable, "-m", "uvicorn", "bench.standin_orders:app", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--ws", "websockets", "--log-level", "warning"]
    with (logs / "standin.log").open("ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
    try:
        from bench.standin_orders import schema

        supergraph = logs / "standin-supergraph.graphql"
        supergraph.write_text(compose([("orders", standin, schema.as_str())], repo_root=ROOT))
        results = [await phase(dedup, args, supergraph, standin, logs) for dedup in (True, False)]
    finally:
        process.terminate()
        process.wait(10)
    print(f"{args.clients} WebSocket clients of orderUpdates with one token, {args.events} events each")
    print(f"{'mode':<22} {'upstreams':>9} {'feeds':>6} {'RSS MiB':>8} {'KiB/client':>10} {'seconds':>8}")
    for r in results:
        print(
            f"{r['mode']:<22} {r['upstreams']:>9.0f} {r['feeds']:>6} {r['rss_mib']:>8.1f}"
            f" {r['kib_per_client']:>10.1f} {r['seconds']:>8.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
