"""Benchmark of the product cache (subgraphs/products/cache.py): the same queries with the cache on and off.

products, inventory, payments and orders run as real processes on real databases, the router as a process
over the committed supergraph. The catalog: 200 products with stock, 40 orders of 3 lines each. Queries:

- `listing`: through the router, `products(first: 20)` with prices and stock (products' page, then inventory's
  `_entities` for stock). The page itself is one PostgreSQL query whatever the cache: a control.
- `orders`: through the router, an admin's `orders(first: 20)` with each line's product (name, price) and
  stock: orders, then products' `_entities` for ~60 products (cached by id), then inventory's.
- `me`: through the router, a customer's `me { orders { items { product { name } } payment { status } } }`
  (users, then orders, then products' and payments' `_entities`): the customer's own page of 20 orders.
- `entities`: products' `_entities` for 20 products, sent straight to the subgraph (what orders' price reads
  and the router's entity fetches cost there).

products is restarted between the two modes (MYSHOP_PRODUCTS_CACHE_TTL_SECONDS 0, then 300); every other
process stays up. Reports requests per second and p50/p99 latency per concurrency level, and the ratio.

    .venv/bin/python bench/catalog_cache.py [--requests 400] [--levels 1,16] [--queries me]

`--queries` runs only some of them (e.g. `--queries me --levels 1` for the customer's orders);
`--hold SECONDS` keeps the stack up, idle, after seeding, printing each process's pid and URL and a customer's
token: to probe one hop directly, or to attach a profiler while a probe sends the load. SIGTERM ends it early,
cleaning up (services stopped, the run's databases dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUN = uuid.uuid4().hex[:6]
os.environ.setdefault("MYSHOP_DATA_DIR", tempfile.mkdtemp(prefix="myshop-bench-"))
os.environ["MYSHOP_DATABASE_PREFIX"] = f"myshop_bench{RUN}_"
os.environ["MYSHOP_REDIS_PREFIX"] = f"bench:{RUN}:"
os.environ["MYSHOP_LOG_LEVEL"] = "WARNING"
# No users process: services sign their SERVICE tokens and verify with the run's own key ring; the router
# has no JWKS, so it passes tokens on to the subgraphs, which verify them.
os.environ["MYSHOP_JWKS_URL"] = ""
os.environ["MYSHOP_SERVICE_TOKEN_URL"] = ""
os.environ["MYSHOP_ROUTER_JWKS_URL"] = ""
SERVICES = ["users", "products", "inventory", "payments", "orders"]
PRODUCTS = 200
ORDERS = 40
for _name in [*SERVICES, "router"]:
    with socket.socket() as _sock:
        _sock.bind(("127.0.0.1", 0))
        os.environ[f"MYSHOP_{_name.upper()}_PORT"] = str(_sock.getsockname()[1])

from measure import percentile  # noqa: E402
from summary import figure  # noqa: E402

from myshop import devstack, migrations  # noqa: E402
from shared.auth import KeyRing, TokenIssuer  # noqa: E402
from shared.auth.keys import generate_key_file  # noqa: E402
from shared.settings import ServiceSettings  # noqa: E402

CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: "bench") { id } }'
PLACE = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"
LISTING = """
{ products(first: 20) { edges { node { id name price { amount currency } stock { available } } } } }
"""
ORDERS_PAGE = """
{ orders(first: 20) { edges { node { id items { quantity
    product { id name price { amount currency } stock { available } } } } } } }
"""
REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { email } }"
# Register signs nobody in: the account's id comes from a login.
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { user { id } } }"
ME = """
{ me { orders(first: 20) { edges { node { id items { product { name } } payment { status } } } } } }
"""
ENTITIES = """
query($r: [_Any!]!) {
  _entities(representations: $r) { ... on Product { id name price { amount currency } active } }
}
"""


async def gql(
    client: aiohttp.ClientSession,
    url: str,
    query: str,
    variables: dict | None = None,
    token: str | None = None,
) -> dict:
    # aiohttp, not httpx: at 16 concurrent requests httpx's own CPU would be part of what this measures.
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with client.post(url, json={"query": query, "variables": variables or {}}, headers=headers) as resp:
        body = await resp.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


async def run_level(
    concurrency: int, total: int, one: Callable[[], Awaitable[None]]
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for _ in counter:
            started = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def busy(process: devstack.ServiceProcess) -> float:
    times = psutil.Process(process.process.pid).cpu_times()
    return times.user + times.system


def start_products(ttl: int, env: dict[str, str], logs: Path) -> devstack.ServiceProcess:
    process = devstack.start_service("products", logs, {**env, "MYSHOP_PRODUCTS_CACHE_TTL_SECONDS": str(ttl)})
    devstack.wait_ready(process)
    return process


# Issue 20's lines: p50 at one client through the router, with the product cache on (as shipped).
TARGETS_MS = {"listing": 6.0, "me": 15.0}


def figures(
    results: dict[tuple[str, str, int], tuple[float, list[float]]], levels: list[int]
) -> list[dict[str, object]]:
    """bench/summary.py's figures: each query's p50 with the cache on, against the same query with it off
    (same run), at each level; a target at one client where issue 20 sets one."""
    out: list[dict[str, object]] = []
    for (case, mode, concurrency), (_, latencies) in results.items():
        if mode != "on" or (case, "off", concurrency) not in results:
            continue
        on_p50 = percentile(latencies, 50) * 1000
        off_p50 = percentile(results[(case, "off", concurrency)][1], 50) * 1000
        target = TARGETS_MS.get(case) if concurrency == 1 else None
        out.append(
            figure(
                f"{case} p50 through the router, clients: {concurrency}",
                on_p50,
                "ms",
                off_p50,
                "the product cache off, same run",
                target=f"<= {target:g} ms" if target is not None else None,
                holds=on_p50 <= target if target is not None else None,
            )
        )
    return out


async def main() -> None:
    # SIGTERM (and SIGINT, which a background job ignores) stops a run, `--hold` too, through the `finally`
    # that stops the services and drops the run's databases.
    running = asyncio.current_task()
    assert running is not None
    for stop in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(stop, running.cancel)
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400, help="requests per query, mode and level")
    parser.add_argument("--levels", default="1,16")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of off-then-on, added up")
    parser.add_argument("--queries", default="listing,orders,me,entities", help="which queries to run")
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to keep the stack up, for profiling")
    parser.add_argument("--json", type=Path, help="write the figures here (bench/summary.py's format)")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    common = ServiceSettings()
    generate_key_file(common.keys_dir)
    keys = KeyRing.load(private_key_pem=None, keys_dir=common.keys_dir, retired_public_pem=None, create=False)
    issuer = TokenIssuer(keys, issuer=common.jwt_issuer, audience=common.jwt_audience, ttl_seconds=3600)
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    service = issuer.issue_service_token("orders", ttl_seconds=3600).token
    env = {**dict(os.environ), **devstack.peer_env(SERVICES)}
    os.environ.update(env)
    logs = Path(common.data_dir) / "logs"
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
        router_url = f"{router.url}/graphql"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as client:
            account = {"email": f"bench-{RUN}@example.com", "password": "correct horse battery", "name": "B"}
            await gql(client, url["users"], REGISTER, {"i": account})
            signed_in = await gql(
                client, url["users"], LOGIN, {"e": account["email"], "p": account["password"]}
            )
            customer = issuer.issue(signed_in["login"]["user"]["id"], ["CUSTOMER"]).token
            products: list[str] = []
            for number in range(PRODUCTS):
                product_input = {
                    "sku": f"CACHE-{RUN}-{number}".upper(),
                    "name": f"Bench kettle {number}",
                    "price": {"amount": 1500 + number, "currency": "USD"},
                    "category": "Bench",
                }
                created = await gql(client, url["products"], CREATE, {"input": product_input}, admin)
                products.append(created["createProduct"]["id"])
                await gql(client, url["inventory"], ADJUST, {"id": products[-1], "d": 1_000_000}, admin)
            for number in range(ORDERS):
                lines = [
                    {"productId": products[(number * 3 + k) % PRODUCTS], "quantity": 1} for k in range(3)
                ]
                order_input = {
                    "items": lines,
                    "paymentMethod": "tok_approve",
                    "idempotencyKey": uuid.uuid4().hex,
                }
                placed = await gql(client, url["orders"], PLACE, {"input": order_input}, customer)
                assert placed["placeOrder"]["id"], placed  # its status does not matter here

            twenty = {"r": [{"__typename": "Product", "id": pid} for pid in products[:20]]}

            async def listing() -> None:
                data = await gql(client, router_url, LISTING)
                assert len(data["products"]["edges"]) == 20

            async def orders_page() -> None:
                data = await gql(client, router_url, ORDERS_PAGE, token=admin)
                assert len(data["orders"]["edges"]) == 20

            async def my_orders() -> None:
                data = await gql(client, router_url, ME, token=customer)
                assert len(data["me"]["orders"]["edges"]) == 20

            async def entities() -> None:
                data = await gql(client, url["products"], ENTITIES, twenty, service)
                assert all(data["_entities"])

            every_case = {"listing": listing, "orders": orders_page, "me": my_orders, "entities": entities}
            cases = {name: every_case[name] for name in args.queries.split(",")}
            if args.hold:
                print("pids:", {process.name: process.process.pid for process in started}, flush=True)
                # The run's own throwaway key signed it: for probing one subgraph's hop directly.
                print("urls:", {**url, "router": router_url}, "customer:", customer, flush=True)
                await asyncio.sleep(args.hold)
            products_process = next(p for p in started if p.name == "products")
            # Rounds of off then on, summed: the machine's drift (other work on it) falls on both modes.
            results: dict[tuple[str, str, int], tuple[float, list[float]]] = {}
            # CPU seconds products spent per query and mode: steadier than rates on a busy machine.
            cpu: dict[tuple[str, str], float] = {}
            # And every process's, per query (both modes): where a query's CPU goes, router included.
            spent: dict[tuple[str, str], float] = {}
            for _round in range(args.rounds):
                for mode, ttl in (("off", 0), ("on", 300)):
                    devstack.stop_services([products_process])
                    started.remove(products_process)
                    products_process = start_products(ttl, env, logs)
                    started.insert(0, products_process)
                    for case, one in cases.items():
                        try:
                            await one()
                        except aiohttp.ServerDisconnectedError:
                            # A keep-alive connection of the pool still led to the products just stopped.
                            await one()
                        for _ in range(50):  # connections, plan caches, the cache itself
                            await one()
                        for concurrency in levels:
                            cpu_before = busy(products_process)
                            each_before = {process.name: busy(process) for process in started}
                            seconds, latencies = await run_level(concurrency, args.requests, one)
                            for process in started:
                                used = busy(process) - each_before[process.name]
                                spent[(case, process.name)] = spent.get((case, process.name), 0.0) + used
                            cpu[(case, mode)] = (
                                cpu.get((case, mode), 0.0) + busy(products_process) - cpu_before
                            )
                            before = results.get((case, mode, concurrency), (0.0, []))
                            results[(case, mode, concurrency)] = (before[0] + seconds, before[1] + latencies)

            async with client.get(f"{products_process.url}/metrics") as resp:
                counters = [
                    line
                    for line in (await resp.text()).splitlines()
                    if line.startswith("myshop_products_cache_")
                ]
            print("products (cache on):", "; ".join(line for line in counters if "_total" in line))
            print(
                f"product cache off vs on: {args.rounds} rounds x {args.requests} requests per query, mode "
                "and level"
            )
            print(
                f"{'query':<9} {'clients':>7} | {'off req/s':>9} {'p50 ms':>7} {'p99 ms':>7} | "
                f"{'on req/s':>9} {'p50 ms':>7} {'p99 ms':>7} | {'req/s on/off':>12}"
            )
            for case in cases:
                for concurrency in levels:
                    off_seconds, off = results[(case, "off", concurrency)]
                    on_seconds, on = results[(case, "on", concurrency)]
                    off_rate, on_rate = len(off) / off_seconds, len(on) / on_seconds
                    print(
                        f"{case:<9} {concurrency:>7} | {off_rate:>9.1f} {percentile(off, 50) * 1000:>7.2f} "
                        f"{percentile(off, 99) * 1000:>7.2f} | {on_rate:>9.1f} "
                        f"{percentile(on, 50) * 1000:>7.2f} {percentile(on, 99) * 1000:>7.2f} | "
                        f"{on_rate / off_rate:>11.2f}x"
                    )
            requests = args.rounds * args.requests * len(levels)
            print("products' CPU per request (ms), off -> on:")
            for case in cases:
                off_cpu, on_cpu = cpu[(case, "off")] / requests * 1000, cpu[(case, "on")] / requests * 1000
                print(f"  {case:<9} {off_cpu:6.2f} -> {on_cpu:6.2f}")
            print("CPU per request (ms) by process, both modes:")
            for case in cases:
                shares = "  ".join(
                    f"{process.name} {spent[(case, process.name)] / requests / 2 * 1000:.2f}"
                    for process in started
                )
                print(f"  {case:<9} {shares}")
            if args.json is not None:
                args.json.write_text(
                    json.dumps({"figures": figures(results, levels)}, indent=2), encoding="utf-8"
                )
    finally:
        devstack.stop_services(started)
        for name in SERVICES:
            settings = devstack.service_settings(name)
            await migrations.drop_database(settings.postgres_url, settings.database_name)


if __name__ == "__main__":
    asyncio.run(main())
