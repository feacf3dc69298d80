"""Benchmark of `checkoutComplete` through the router, beside `placeOrder` of the same lines in the same run.

products, inventory, payments, shipping and orders run as real processes on real databases, the router as a
process over the committed supergraph. One customer per checkout, each cart filled first (5 lines, an
address in a zone with a flat-rate method, a 19% tax rate: not timed); then 10 clients check the carts out,
then place orders of the same 5 lines. Checkout adds to placeOrder: the cart's reads, the tax table, the
shipping quote, the promotions' evaluation and the frozen breakdown. Rates are calls per second of wall
time; p50/p99 per call. Measured 2026-12-06 (2 shared cores): checkout 19.2/s, p50 505 ms, p99 710 ms;
placeOrder 23.0/s, p50 406 ms, p99 645 ms; p50 ratio 1.24x.

    .venv/bin/python bench/checkout.py [--checkouts 100] [--clients 10]
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

import aiohttp
import stack
from measure import gql, percentile, run_calls

SERVICES = ["products", "inventory", "payments", "shipping", "orders"]
LINES = 5
RUN = stack.isolate(SERVICES, router=True)

CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: "bench") { id } }'
RATE = 'mutation { setTaxRate(country: "DE", taxClass: "standard", rate: 1900) { country } }'
ZONE = 'mutation { createShippingZone(name: "Bench DE", countries: ["DE"]) { id } }'
METHOD = "mutation($input: CreateShippingMethodInput!) { createShippingMethod(input: $input) { id } }"
ADD = "mutation($p: ID!) { cartAddLine(productId: $p, quantity: 1) { id } }"
SHIP_TO = "mutation($a: AddressInput!) { cartSetShippingAddress(address: $a) { id } }"
CHOOSE = "mutation($m: ID!) { cartSetShippingMethod(methodId: $m) { id } }"
CHECKOUT = """
mutation($c: ID!, $k: String!) {
  checkoutComplete(cartId: $c, paymentMethod: "tok_approve", idempotencyKey: $k) {
    id status total { amount }
  }
}"""
PLACE = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status total { amount } } }"
ADDRESS = {
    "name": "Bench",
    "line1": "Unter den Linden 1",
    "city": "Berlin",
    "postalCode": "10117",
    "country": "DE",
}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkouts", type=int, default=100, help="checkouts (and orders) measured")
    parser.add_argument("--clients", type=int, default=10)
    args = parser.parse_args()

    async with stack.Stack(SERVICES, router=True) as running:
        router_url = running.router_url
        admin = running.token(["ADMIN"])
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as client:
            products = []
            for number in range(LINES):
                product_input = {
                    "sku": f"CHECKOUT-{RUN}-{number}".upper(),
                    "name": f"Bench item {number}",
                    "price": {"amount": 1000 + 37 * number, "currency": "EUR"},
                    "category": "Bench",
                    "weight": 250,
                }
                created = await gql(client, router_url, CREATE, {"input": product_input}, admin)
                products.append(created["createProduct"]["id"])
                await gql(client, router_url, ADJUST, {"id": products[-1], "d": 1_000_000}, admin)
            await gql(client, router_url, RATE, {}, admin)
            zone = (await gql(client, router_url, ZONE, {}, admin))["createShippingZone"]["id"]
            method_input = {
                "zoneId": zone,
                "name": "Bench post",
                "minDeliveryDays": 1,
                "maxDeliveryDays": 2,
                "currency": "EUR",
                "rateKind": "FLAT",
                "flatPrice": 490,
            }
            method = (await gql(client, router_url, METHOD, {"input": method_input}, admin))[
                "createShippingMethod"
            ]
            # One customer (and cart) per checkout, every cart filled before the timed run.
            warm = args.clients
            customers = [running.token(["CUSTOMER"]) for _ in range(warm + args.checkouts)]
            carts: dict[int, str] = {}

            async def fill(index: int) -> None:
                token = customers[index]
                for product in products:
                    carts[index] = (await gql(client, router_url, ADD, {"p": product}, token))["cartAddLine"][
                        "id"
                    ]
                await gql(client, router_url, SHIP_TO, {"a": ADDRESS}, token)
                await gql(client, router_url, CHOOSE, {"m": method["id"]}, token)

            async def check_out(index: int) -> None:
                variables = {"c": carts[index], "k": uuid.uuid4().hex}
                data = await gql(client, router_url, CHECKOUT, variables, customers[index])
                assert data["checkoutComplete"]["status"] == "CONFIRMED", data

            async def place(index: int) -> None:
                order_input = {
                    "items": [{"productId": product, "quantity": 1} for product in products],
                    "paymentMethod": "tok_approve",
                    "idempotencyKey": uuid.uuid4().hex,
                }
                data = await gql(client, router_url, PLACE, {"input": order_input}, customers[index])
                assert data["placeOrder"]["status"] == "CONFIRMED", data

            await run_calls(args.clients, warm + args.checkouts, fill)
            await run_calls(args.clients, warm, check_out)  # warm: pools, plan caches
            await run_calls(args.clients, warm, place)
            rate, lat = await run_calls(args.clients, args.checkouts, lambda i: check_out(warm + i))
            ref_rate, ref = await run_calls(args.clients, args.checkouts, lambda i: place(warm + i))
            print(f"a {LINES}-line cart through the router: {args.checkouts} calls, {args.clients} clients")
            print(f"{'':>12} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8}")
            for name, per_s, values in (("checkout", rate, lat), ("placeOrder", ref_rate, ref)):
                p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
                print(f"{name:>12} {per_s:>7.1f} {p50:>8.1f} {p99:>8.1f}")
            print(f"p50 ratio checkout/placeOrder: {percentile(lat, 50) / percentile(ref, 50):.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
