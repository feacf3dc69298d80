"""Benchmark of `placeOrder` through the router: orders, inventory and payments (and products for prices) as
real processes on real databases, the router over the committed supergraph, each order running the whole saga
(catalog read, reserve, charge, confirm) and answered CONFIRMED.

Orders are spread over 100 products (one hot product would measure its row lock). Reports orders per second
and p50/p99 latency at 1, 10 and 50 concurrent clients. The reference, measured in the same run right after
each level, is the saga's peer work called directly by the client at the same concurrency (prices from
products, then reserveStock, chargePayment, confirmReservation with a SERVICE token): the ratios are what the
router and the orders service add (the edge, the order's own transactions, the saga's persisted steps, its
outbox). On a shared machine the rates are noisy; the CPU each process spends per order (from /proc) is
not: it is printed per level for placeOrder and for the reference. `--profile DIR` records every process (the
services and the router) with py-spy during the 10-client level (collapsed stacks, `DIR/<name>.txt`).

    .venv/bin/python bench/place_order.py [--orders 200] [--levels 1,10,50] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg
import stack
from measure import gql, percentile, run_calls
from sqlalchemy.engine import make_url
from summary import figure

SERVICES = ["products", "inventory", "payments", "orders"]
PRODUCTS = 100
RUN = stack.isolate(SERVICES, router=True)
# The services' own pools (their defaults, as deployed without MYSHOP_DB_* settings), not `myshop up`'s
# squeezed ones (sized to share one server with two test suites). The environment may choose others.

PLACE = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"""
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: "bench") { id } }'
PRICES = (
    "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { price { amount currency } } } }"
)
RESERVE = "mutation($i: ReserveStockInput!) { reserveStock(input: $i) { id status } }"
CHARGE = "mutation($i: ChargePaymentInput!) { chargePayment(input: $i) { id status } }"
CONFIRM = "mutation($k: String!) { confirmReservation(key: $k) { id status } }"


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds each process has used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / tick
    return used


async def sessions(prefix: str) -> dict[str, int]:
    """Connections each database of this run has had so far (PostgreSQL's `pg_stat_database.sessions`, by
    service: `<prefix><service>`)."""
    from shared.settings import ServiceSettings  # after `stack.isolate` set the run's environment

    url = make_url(ServiceSettings().postgres_url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        # The statistics of the last second may not be flushed yet: ask for them.
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        rows = await connection.fetch(
            "SELECT datname, sessions FROM pg_stat_database WHERE starts_with(datname, $1)", prefix
        )
    finally:
        await connection.close()
    return {row["datname"].removeprefix(prefix): row["sessions"] for row in rows}


async def measured(
    pids: dict[str, int], prefix: str, clients: int, total: int, one: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float], dict[str, float], dict[str, float]]:
    """`run_calls`, the CPU milliseconds per call each process of `pids` spent meanwhile, and the connections
    to each database of `prefix` opened per call (a pool too small for the load opens and closes overflow
    ones: a backend started, authenticated and set up each time)."""
    before, opened_before = cpu_seconds(pids), await sessions(prefix)
    rate, latencies = await run_calls(clients, total, one)
    after = cpu_seconds(pids)
    await asyncio.sleep(0.6)  # PostgreSQL flushes its statistics at most every 0.5 s
    opened = await sessions(prefix)
    cpu = {name: (after[name] - before[name]) * 1000 / total for name in pids}
    per_call = {service: (count - opened_before.get(service, 0)) / total for service, count in opened.items()}
    return rate, latencies, cpu, per_call


def profilers(pids: dict[str, int], directory: str | None, level: int) -> list[subprocess.Popen[bytes]]:
    """py-spy recording each process of `pids` (the services and the router) until stopped, when asked and
    installed: collapsed stacks in `DIR/<name>.txt`."""
    if directory is None or level != 10:
        return []
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    spies = []
    for name, pid in pids.items():
        command = [spy, "record", "--pid", str(pid), "--rate", "100", "--format", "raw"]
        command += ["--output", str(out / f"{name}.txt"), "--nonblocking"]
        spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return spies


class Shop:
    """One stack's catalog (100 products with stock) and its two workloads: `place` (placeOrder through the
    router) and `direct` (the saga's peer calls made by the client)."""

    def __init__(self, running: stack.Stack, client: aiohttp.ClientSession, run: str, customers: int) -> None:
        self.running = running
        self.client = client
        self.run = run
        self.url = running.url
        self.pids = {p.name: p.process.pid for p in running.started}
        self.prefix = os.environ["MYSHOP_DATABASE_PREFIX"]  # its run's databases (`stack.isolate`)
        self.admin = running.token(["ADMIN"])
        self.service = running.service_token("orders")
        self.customers = [running.token(["CUSTOMER"]) for _ in range(customers)]
        self.products: list[str] = []

    async def stock(self) -> None:
        # Orders spread over a catalog (one hot product would measure its row lock, not the saga).
        async def create(number: int) -> str:
            product_input = {
                "sku": f"BENCH-{self.run}-{number}".upper(),
                "name": f"Bench mug {number}",
                "price": {"amount": 1200 + number, "currency": "USD"},
                "category": "Bench",
            }
            created = await gql(
                self.client, self.url["products"], CREATE, {"input": product_input}, self.admin
            )
            product_id = created["createProduct"]["id"]
            await gql(
                self.client, self.url["inventory"], ADJUST, {"id": product_id, "d": 1_000_000}, self.admin
            )
            return product_id

        for start in range(0, PRODUCTS, 10):
            self.products += await asyncio.gather(*(create(n) for n in range(start, start + 10)))
        # Every product in products' cache (createProduct's own invalidation left none there), so the first
        # level does not read most of the catalog from PostgreSQL and write it back.
        reps = {"r": [{"__typename": "Product", "id": product} for product in self.products]}
        await gql(self.client, self.url["products"], PRICES, reps, self.service)
        for warm in range(30):  # connections, plan caches, warm pools
            await self.place(warm)
            await self.direct(warm)

    async def place(self, index: int) -> None:
        product = self.products[index % PRODUCTS]
        order_input = {
            "items": [{"productId": product, "quantity": 1}],
            "paymentMethod": "tok_approve",
            "idempotencyKey": uuid.uuid4().hex,
        }
        customer = self.customers[index % len(self.customers)]
        data = await gql(self.client, self.running.router_url, PLACE, {"input": order_input}, customer)
        assert data["placeOrder"]["status"] == "CONFIRMED", data

    async def direct(self, index: int) -> None:
        client, url, service = self.client, self.url, self.service
        product = self.products[index % PRODUCTS]
        order_id = str(uuid.uuid4())
        key = f"bench:{order_id}"
        reps = {"r": [{"__typename": "Product", "id": product}]}
        price = (await gql(client, url["products"], PRICES, reps, service))["_entities"][0]["price"]
        line = {"productId": product, "quantity": 1}
        reservation = {"key": f"{key}:reserve", "orderId": order_id, "lines": [line]}
        await gql(client, url["inventory"], RESERVE, {"i": reservation}, service)
        charge = {
            "key": f"{key}:charge",
            "orderId": order_id,
            "userId": str(uuid.uuid4()),
            "amount": price,
            "method": "tok_approve",
        }
        await gql(client, url["payments"], CHARGE, {"i": charge}, service)
        await gql(client, url["inventory"], CONFIRM, {"k": f"{key}:reserve"}, service)


def checkout_dir(path: str) -> str:
    return str(Path(path).resolve())


@contextlib.asynccontextmanager
async def stack_of(code: str | None, run: str) -> AsyncIterator[stack.Stack]:
    """A stack of this checkout's code, or (`code`, a directory) of another checkout's with this run's ids;
    the environment it was made in is put back to drop its databases."""
    here = os.getcwd()
    if code is not None:
        # `python -m` puts the working directory first on the path: the processes start in `code`.
        os.environ["PYTHONPATH"] = code
        os.chdir(code)
    running = stack.Stack(SERVICES, router=True)
    env = dict(os.environ)
    os.environ.pop("PYTHONPATH", None)
    try:
        await running.__aenter__()
    finally:
        os.chdir(here)
    try:
        yield running
    finally:
        os.environ.clear()  # the stack drops its databases, which it names from the environment
        os.environ.update(env)
        os.environ.pop("PYTHONPATH", None)
        await running.__aexit__(None, None, None)


def row(label: str, clients: int, rate: float, latencies: list[float]) -> str:
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    return f"{label:<22} {clients:>7} {rate:>9.1f} {p50:>8.1f} {p99:>8.1f}"


def cpu_line(cpu: dict[str, float], opened: dict[str, float]) -> str:
    return (
        "    CPU ms per order: "
        + " ".join(f"{name} {ms:.1f}" for name, ms in cpu.items())
        + "\n    connections opened per order: "
        + " ".join(f"{name} {count:.2f}" for name, count in sorted(opened.items()))
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200, help="orders per concurrency level")
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--profile", metavar="DIR", help="py-spy every process at 10 clients into DIR")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        type=checkout_dir,
        help="another checkout (e.g. `git archive main`) run beside this one, level by level, as a reference",
    )
    parser.add_argument(
        "--baseline-env",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a setting of the baseline's processes only (e.g. MYSHOP_DB_POOL_SIZE=10); repeatable",
    )
    parser.add_argument("--json", type=Path, help="write the figures here (bench/summary.py's format)")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    figures: list[dict[str, object]] = []

    async with contextlib.AsyncExitStack() as stacks:
        client = await stacks.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        )
        shop = Shop(await stacks.enter_async_context(stack_of(None, RUN)), client, RUN, max(levels))
        await shop.stock()
        base = None
        if args.baseline:
            base_run = stack.isolate(SERVICES, router=True)
            for setting in args.baseline_env:
                name, _, value = setting.partition("=")
                os.environ[name] = value
            base_stack = await stacks.enter_async_context(stack_of(args.baseline, base_run))
            base = Shop(base_stack, client, base_run, max(levels))
            await base.stock()
        everyone = {**shop.pids, "client": os.getpid()}
        print(f"placeOrder through the router, {args.orders} orders per level (one process per service);")
        print(
            "references in the same run, level by level: the saga's peer calls made directly (no router, no"
        )
        print(f"orders){'' if base is None else ', and placeOrder on ' + args.baseline}")
        print(f"{'':<22} {'clients':>7} {'orders/s':>9} {'p50 ms':>8} {'p99 ms':>8} | to direct: rate, p50")
        for clients in levels:
            spies = profilers(shop.pids, args.profile, clients)
            rate, lat, cpu, opened = await measured(everyone, shop.prefix, clients, args.orders, shop.place)
            for spy in spies:
                spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            for spy in spies:
                spy.wait(30)
            ref_rate, ref, ref_cpu, ref_opened = await measured(
                everyone, shop.prefix, clients, args.orders, shop.direct
            )
            p50_ratio = percentile(lat, 50) / percentile(ref, 50)
            print(row("placeOrder", clients, rate, lat) + f" | {rate / ref_rate:.2f}x {p50_ratio:.2f}x")
            print(cpu_line(cpu, opened))
            if base is not None:
                pids = {**base.pids, "client": os.getpid()}
                base_rate, base_lat, base_cpu, base_opened = await measured(
                    pids, base.prefix, clients, args.orders, base.place
                )
                base_p50 = percentile(base_lat, 50) / percentile(ref, 50)
                print(
                    row("placeOrder (baseline)", clients, base_rate, base_lat)
                    + f" | {base_rate / ref_rate:.2f}x {base_p50:.2f}x"
                )
                print(cpu_line(base_cpu, base_opened))
                print(
                    f"    this / baseline: rate {rate / base_rate:.2f}x, p50 "
                    f"{percentile(lat, 50) / percentile(base_lat, 50):.2f}x, orders CPU "
                    f"{cpu['orders'] / base_cpu['orders']:.2f}x, all CPU "
                    f"{sum(cpu.values()) / sum(base_cpu.values()):.2f}x"
                )
            print(row("direct (reference)", clients, ref_rate, ref))
            print(cpu_line(ref_cpu, ref_opened), flush=True)
            figures += level_figures(clients, rate, lat, ref_rate, ref)
    if args.json is not None:
        args.json.write_text(json.dumps({"figures": figures}, indent=2), encoding="utf-8")


TARGET_CLIENTS, TARGET_RATE, TARGET_P99_MS = 10, 60.0, 300.0  # issue 20's acceptance line


def level_figures(
    clients: int, rate: float, latencies: list[float], ref_rate: float, ref: list[float]
) -> list[dict[str, object]]:
    """One level's figures (bench/summary.py's format) against the direct calls of the same run."""
    p99, ref_p99 = percentile(latencies, 99) * 1000, percentile(ref, 99) * 1000
    targeted = clients == TARGET_CLIENTS
    direct = "the saga's steps called directly, same run"
    return [
        figure(
            f"placeOrder, {clients} clients",
            rate,
            "orders/s",
            ref_rate,
            direct,
            target=f">= {TARGET_RATE:g} orders/s" if targeted else None,
            holds=rate >= TARGET_RATE if targeted else None,
            digits=1,
        ),
        figure(
            f"placeOrder p99, {clients} clients",
            p99,
            "ms",
            ref_p99,
            direct,
            target=f"<= {TARGET_P99_MS:g} ms" if targeted else None,
            holds=p99 <= TARGET_P99_MS if targeted else None,
            digits=1,
        ),
    ]


if __name__ == "__main__":
    asyncio.run(main())
