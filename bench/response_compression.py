"""What gzip costs the router per answer, by level: CPU time (not wall time: the numbers hold on a busy
machine) and size of a products answer built from the demo catalog (`myshop seed`'s), 100 and 1,000 products
with the fields the README's queries ask for. router/ops/compression.py's `gzip_level` is chosen from it.

    .venv/bin/python bench/response_compression.py
"""

from __future__ import annotations

import base64
import time
import zlib
from typing import Any

import orjson

from myshop.demo.catalog import CatalogItem, demo_product_id, generate_products

LEVELS = (1, 3, 5, 6, 9)


def edge(index: int, item: CatalogItem) -> dict[str, Any]:
    return {
        "node": {
            "id": str(demo_product_id(item.sku)),
            "sku": item.sku,
            "name": item.name,
            "description": item.description,
            "price": {"amount": item.price_amount, "currency": item.currency},
            "category": item.category,
            "active": True,
            "createdAt": "2026-12-01T10:00:00+00:00",
            "stock": {"available": index % 50, "reserved": index % 3, "onHand": index % 53},
            "inStock": index % 50 > 0,
        },
        "cursor": base64.b64encode(f"{index}:{item.sku}".encode()).decode(),
    }


def answer(items: list[CatalogItem]) -> bytes:
    edges = [edge(index, item) for index, item in enumerate(items)]
    return orjson.dumps({"data": {"products": {"edges": edges, "totalCount": len(items)}}})


def cpu_ms(work: Any, body: bytes) -> float:
    repeats = max(3, 20_000_000 // len(body))
    started = time.process_time()
    for _ in range(repeats):
        work(body)
    return (time.process_time() - started) / repeats * 1000


def main() -> None:
    catalog = generate_products(1000)
    for count in (100, 1000):
        body = answer(catalog[:count])
        serialize = cpu_ms(lambda b: orjson.dumps(orjson.loads(b)), body)
        print(f"{count} products, {len(body):,} bytes (orjson loads + dumps: {serialize:.2f} ms CPU)")
        for level in LEVELS:
            size = len(zlib.compress(body, level, wbits=31))
            ms = cpu_ms(lambda b, level=level: zlib.compress(b, level, wbits=31), body)
            ratio, rate = size / len(body), len(body) / ms / 1000
            print(f"  gzip {level}: {ms:6.2f} ms CPU  {size:>9,} bytes ({ratio:.1%})  {rate:4.0f} MB/s")


if __name__ == "__main__":
    main()
