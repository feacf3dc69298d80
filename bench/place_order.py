"""Benchmark of `placeOrder` through the router: orders, inventory and payments (and products for prices) as
real processes on real databases, the router over the committed supergraph, each order running the whole saga
(catalog read, reserve, charge, confirm) and answered CONFIRMED.

Orders are spread over 100 products (one hot product would measure its row lock). Reports orders per second
and p50/p99 latency at 1, 10 and 50 concurrent clients. The reference, measured in the same run right after
each level, is the saga's peer work called directly by the client at the same concurrency (prices from
products, then reserveStock, chargePayment, confirmReservation with a SERVICE token): the ratios are what the
router and the orders service add (the edge, the order's own transactions, the saga's persisted steps, its
outbox). `--profile DIR` records the orders process with py-spy during the 10-client level (flame graph).

    .venv/bin/python bench/place_order.py [--orders 200] [--levels 1,10,50] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import stack
from measure import gql, percentile, run_calls

SERVICES = ["products", "inventory", "payments", "orders"]
PRODUCTS = 100
RUN = stack.isolate(SERVICES, router=True)

PLACE = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"""
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: "bench") { id } }'
PRICES = (
    "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { price { amount currency } } } }"
)
RESERVE = "mutation($i: ReserveStockInput!) { reserveStock(input: $i) { id status } }"
CHARGE = "mutation($i: ChargePaymentInput!) { chargePayment(input: $i) { id status } }"
CONFIRM = "mutation($k: String!) { confirmReservation(key: $k) { id status } }"


def profiler(pid: int, directory: str | None, level: int) -> subprocess.Popen[bytes] | None:
    """py-spy recording process `pid` (the orders service) until stopped, when asked and installed."""
    if directory is None or level != 10:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    command = [spy, "record", "--pid", str(pid), "--rate", "200", "--output", str(out / "orders.svg")]
    return subprocess.Popen([*command, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200, help="orders per concurrency level")
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the orders process at 10 clients into DIR")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    async with stack.Stack(SERVICES, router=True) as running:
        url = running.url
        router = running.router_url
        orders_pid = next(p.process.pid for p in running.started if p.name == "orders")
        admin = running.token(["ADMIN"])
        service = running.service_token("orders")
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as client:
            # Orders spread over a catalog (one hot product would measure its row lock, not the saga).
            async def create(number: int) -> str:
                product_input = {
                    "sku": f"BENCH-{RUN}-{number}".upper(),
                    "name": f"Bench mug {number}",
                    "price": {"amount": 1200 + number, "currency": "USD"},
                    "category": "Bench",
                }
                created = await gql(client, url["products"], CREATE, {"input": product_input}, admin)
                product_id = created["createProduct"]["id"]
                await gql(client, url["inventory"], ADJUST, {"id": product_id, "d": 1_000_000}, admin)
                return product_id

            products = []
            for start in range(0, PRODUCTS, 10):
                products += await asyncio.gather(*(create(n) for n in range(start, start + 10)))
            customers = [running.token(["CUSTOMER"]) for _ in range(max(levels))]

            async def place(index: int) -> None:
                product = products[index % PRODUCTS]
                order_input = {
                    "items": [{"productId": product, "quantity": 1}],
                    "paymentMethod": "tok_approve",
                    "idempotencyKey": uuid.uuid4().hex,
                }
                data = await gql(
                    client, router, PLACE, {"input": order_input}, customers[index % len(customers)]
                )
                assert data["placeOrder"]["status"] == "CONFIRMED", data

            async def direct(index: int) -> None:
                product = products[index % PRODUCTS]
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

            for warm in range(30):  # connections, plan caches, warm pools
                await place(warm)
                await direct(warm)
            print(f"placeOrder through the router, {args.orders} orders per level (one process per service)")
            print(
                "reference (same run and clients): the saga's peer calls made directly (no router, no orders)"
            )
            print(
                f"{'clients':>7} {'orders/s':>9} {'p50 ms':>8} {'p99 ms':>8} | {'direct/s':>9} {'p50 ms':>8} "
                f"{'p99 ms':>8} | {'rate ratio':>10} {'p50 ratio':>9}"
            )
            for concurrency in levels:
                spy = profiler(orders_pid, args.profile, concurrency)
                rate, lat = await run_calls(concurrency, args.orders, place)
                if spy is not None:
                    spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                    spy.wait(30)
                ref_rate, ref = await run_calls(concurrency, args.orders, direct)
                print(
                    f"{concurrency:>7} {rate:>9.1f} {percentile(lat, 50) * 1000:>8.1f} "
                    f"{percentile(lat, 99) * 1000:>8.1f} | {ref_rate:>9.1f} "
                    f"{percentile(ref, 50) * 1000:>8.1f} {percentile(ref, 99) * 1000:>8.1f} | "
                    f"{rate / ref_rate:>9.2f}x {percentile(lat, 50) / percentile(ref, 50):>8.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    asyncio.run(main())
