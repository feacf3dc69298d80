"""Benchmark of `placeOrder` end to end: orders, inventory and payments (and products for prices) as real
processes on real databases, each order running the whole saga (reserve, charge, confirm).

Orders are spread over 100 products (one hot product would measure its row lock). Reports orders per second
and p50/p99 latency at 1, 10 and 50 concurrent clients. The reference, measured in the same run, is the same
work called directly by the client (prices from products, then reserveStock, chargePayment, confirmReservation
with a SERVICE token): the ratio is what the orders service adds (its own transactions, the saga's persisted
steps, its outbox).

    .venv/bin/python bench/place_order.py [--orders 200] [--levels 1,10,50]
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

import aiohttp
import stack
from measure import gql, percentile, run_calls

SERVICES = ["products", "inventory", "payments", "orders"]
PRODUCTS = 100
RUN = stack.isolate(SERVICES)

PLACE = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"""
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: "bench") { id } }'
PRICES = (
    "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { price { amount currency } } } }"
)
RESERVE = "mutation($i: ReserveStockInput!) { reserveStock(input: $i) { id status } }"
CHARGE = "mutation($i: ChargePaymentInput!) { chargePayment(input: $i) { id status } }"
CONFIRM = "mutation($k: String!) { confirmReservation(key: $k) { id status } }"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200, help="orders per concurrency level")
    parser.add_argument("--levels", default="1,10,50")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    async with stack.Stack(SERVICES) as running:
        url = running.url
        admin = running.token(["ADMIN"])
        service = running.service_token("orders")
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as client:
            # Orders spread over a catalog (one hot product would measure its row lock, not the saga).
            products = []
            for number in range(PRODUCTS):
                product_input = {
                    "sku": f"BENCH-{RUN}-{number}".upper(),
                    "name": f"Bench mug {number}",
                    "price": {"amount": 1200 + number, "currency": "USD"},
                    "category": "Bench",
                }
                created = await gql(client, url["products"], CREATE, {"input": product_input}, admin)
                products.append(created["createProduct"]["id"])
                await gql(client, url["inventory"], ADJUST, {"id": products[-1], "d": 1_000_000}, admin)
            customers = [running.token(["CUSTOMER"]) for _ in range(max(levels))]

            async def place(index: int) -> None:
                product = products[index % PRODUCTS]
                order_input = {
                    "items": [{"productId": product, "quantity": 1}],
                    "paymentMethod": "tok_approve",
                    "idempotencyKey": uuid.uuid4().hex,
                }
                data = await gql(
                    client, url["orders"], PLACE, {"input": order_input}, customers[index % len(customers)]
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

            for warm in range(20):  # connections, plan caches, JIT-less but warm pools
                await place(warm)
                await direct(warm)
            print(f"placeOrder end to end, {args.orders} orders per level (one process per service)")
            print(
                f"{'clients':>7} {'orders/s':>9} {'p50 ms':>8} {'p99 ms':>8} | {'direct/s':>9} {'p50 ms':>8} "
                f"{'p99 ms':>8} | {'p50 ratio':>9}"
            )
            for concurrency in levels:
                rate, lat = await run_calls(concurrency, args.orders, place)
                ref_rate, ref = await run_calls(concurrency, args.orders, direct)
                print(
                    f"{concurrency:>7} {rate:>9.1f} {percentile(lat, 50) * 1000:>8.1f} "
                    f"{percentile(lat, 99) * 1000:>8.1f} | {ref_rate:>9.1f} "
                    f"{percentile(ref, 50) * 1000:>8.1f} {percentile(ref, 99) * 1000:>8.1f} | "
                    f"{percentile(lat, 50) / percentile(ref, 50):>8.2f}x"
                )


if __name__ == "__main__":
    asyncio.run(main())
