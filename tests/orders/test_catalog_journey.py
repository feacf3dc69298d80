"""Issue 17's acceptance in one flow through the router over the committed supergraph, every service real:
an admin creates a product in 2 options x 3 values (6 variants) and stocks two of them; a search with
`inStock` + a colour + a price range finds only the product with one variant matching all three, with facet
counts equal to what SQL counts in products' tables; a customer orders one variant and only that variant's
stock moves; an image of it uploaded through the router is served as a thumbnail with an ETag, and asked again
with `If-None-Match` answers 304; once the product is archived, inventory itself refuses to reserve its
variants (a direct `reserveStock` with a SERVICE token)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from eventually import eventually
from orders_shop import Shop
from PIL import Image
from sqlalchemy import text

from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
MiB = 1024 * 1024

CREATE = """
mutation Create($input: CreateProductInput!) {
  createProduct(input: $input) { id variants { id sku price { amount } selectedOptions { name value } } }
}"""
ADJUST = """
mutation Adjust($id: ID!, $delta: Int!) {
  adjustVariantStock(variantId: $id, delta: $delta, reason: "received") { id stock { onHand } }
}"""
SEARCH = """
query Search($category: String!, $filter: ProductSearchFilter) {
  products(category: $category, filter: $filter, sort: PRICE_ASC, first: 10) {
    totalCount
    edges { node { id name } }
    facets {
      inStock
      categories { value count }
      options { name values { value count } }
    }
  }
}"""
PLACE = """
mutation Place($input: PlaceOrderInput!) {
  placeOrder(input: $input) { id status items { quantity sku variant { id } } }
}"""
STOCK = """
query Stock($id: ID!) {
  product(id: $id) { stock { onHand } variants { id stock { onHand available } } }
}"""
UPLOAD = """
mutation Add($productId: ID!, $file: Upload!, $variantId: ID) {
  addProductMedia(productId: $productId, file: $file, alt: "Red, size M", variantId: $variantId) {
    id thumbnail(size: SMALL) { url width height contentType }
  }
}"""
ARCHIVE = "mutation Archive($id: ID!) { archiveProduct(id: $id) { id active } }"
RESERVE = """
mutation Reserve($input: ReserveStockInput!) { reserveStock(input: $input) { id status } }"""

# What the test's SQL counts: products (not variants) with a variant matching every filter at once.
FACETS_SQL = """
SELECT kv.key, kv.value, count(DISTINCT v.product_id)
FROM product_variants v
JOIN products p ON p.id = v.product_id
CROSS JOIN LATERAL jsonb_each_text(v.option_values) AS kv
WHERE p.category = :category AND p.active AND v.active AND v.available_units > 0
  AND v.option_values @> CAST(:colour AS jsonb)
  AND coalesce(v.price_amount, p.price_amount) BETWEEN :low AND :high
GROUP BY kv.key, kv.value
"""


@pytest.fixture(scope="module")
def router(stack: Any, start_router: Callable[..., ServerThread]) -> ServerThread:
    """The router as router.yaml runs it for the catalog: uploads on, `/media/*` passed to products."""
    return start_router(
        SUPERGRAPH,
        subgraph_urls={name: f"{server.url}/graphql" for name, server in stack.servers.items()},
        uploads={"enabled": True, "max_file_size": 10 * MiB, "max_files": 4, "max_request_size": 40 * MiB},
        media={"enabled": True},
    )


async def ask(router: ServerThread, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    return dict(response.json())


def ok(answer: dict[str, Any]) -> dict[str, Any]:
    assert not answer.get("errors"), answer
    return dict(answer["data"])


async def product_in(
    shop: Shop, router: ServerThread, category: str, options: dict[str, list[str]], prices: dict[str, int]
) -> dict[str, Any]:
    """A product of `category` with every combination of `options`, priced by its first option's value."""
    sku = f"JRN-{uuid.uuid4().hex[:8].upper()}"
    (first, first_values), *rest = options.items()
    combos: list[dict[str, str]] = [{first: value} for value in first_values]
    for name, values in rest:
        combos = [{**combo, name: value} for combo in combos for value in values]
    product_input = {
        "sku": sku,
        "name": f"Journey {sku}",
        "price": {"amount": 1000, "currency": "USD"},
        "category": category,
        "options": [{"name": name, "values": values} for name, values in options.items()],
        "variants": [
            {
                "sku": "-".join([sku, *combo.values()]).upper(),
                "price": {"amount": prices[combo[first]], "currency": "USD"},
                "optionValues": [{"name": name, "value": value} for name, value in combo.items()],
            }
            for combo in combos
        ],
    }
    return ok(await ask(router, CREATE, {"input": product_input}, shop.admin))["createProduct"]


def variant_of(product: dict[str, Any], **wanted: str) -> str:
    return next(
        v["id"]
        for v in product["variants"]
        if {o["name"]: o["value"] for o in v["selectedOptions"]} == wanted
    )


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_a_variant_catalog_from_creation_to_search_order_image_and_archive(
    shop: Shop, router: ServerThread
) -> None:
    category = f"Journey {uuid.uuid4().hex[:8]}"
    sizes = {"S": 2000, "M": 2200, "L": 2600}
    shirt = await product_in(
        shop, router, category, {"Size": ["S", "M", "L"], "Colour": ["Red", "Blue"]}, sizes
    )
    assert len(shirt["variants"]) == 6
    medium_red = variant_of(shirt, Size="M", Colour="Red")
    large_blue = variant_of(shirt, Size="L", Colour="Blue")
    # Decoys, each failing one filter: red but out of stock; red and stocked but too dear; blue and stocked.
    unstocked_red = await product_in(shop, router, category, {"Colour": ["Red"]}, {"Red": 2200})
    dear_red = await product_in(shop, router, category, {"Colour": ["Red"]}, {"Red": 3000})
    cheap_blue = await product_in(shop, router, category, {"Colour": ["Blue"]}, {"Blue": 2200})
    for variant_id, units in [
        (medium_red, 5),
        (large_blue, 3),
        (dear_red["variants"][0]["id"], 4),
        (cheap_blue["variants"][0]["id"], 4),
    ]:
        ok(await ask(router, ADJUST, {"id": variant_id, "delta": units}, shop.admin))
    assert unstocked_red["id"]

    search_filter = {
        "inStock": True,
        "options": [{"name": "Colour", "values": ["Red"]}],
        "price": {"min": 2100, "max": 2500},
    }
    # "In stock" is known to products through inventory's StockChanged events: it follows within the bound.
    # Wait on the listing and its facets both: they are two statements, and one answer can straddle the
    # commit of an availability update (the listing read before it, the facets after).
    found = await eventually(
        lambda: ask(router, SEARCH, {"category": category, "filter": search_filter}, shop.admin),
        lambda answer: (
            not answer.get("errors")
            and answer["data"]["products"]["facets"]["inStock"] == 1
            and bool(answer["data"]["products"]["edges"])
        ),
        within=15,
        what="products to learn the stocked variants from inventory's events",
    )
    page = found["data"]["products"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [shirt["id"]]
    assert page["totalCount"] == 1
    async with shop.engines["products"].connect() as conn:
        rows = (
            await conn.execute(
                text(FACETS_SQL),
                {
                    "category": category,
                    "colour": orjson.dumps({"Colour": "Red"}).decode(),
                    "low": 2100,
                    "high": 2500,
                },
            )
        ).all()
    counted = {(name, value): count for name, value, count in rows}
    assert counted == {("Size", "M"): 1, ("Colour", "Red"): 1}
    assert {
        (option["name"], value["value"]): value["count"]
        for option in page["facets"]["options"]
        for value in option["values"]
    } == counted
    assert page["facets"]["categories"] == [{"value": category, "count": 1}]

    # A customer orders one variant: only its stock moves.
    customer = shop.customer()
    order_input = {
        "items": [{"variantId": medium_red, "quantity": 2}],
        "paymentMethod": "tok_approve",
        "idempotencyKey": uuid.uuid4().hex,
    }
    order = ok(await ask(router, PLACE, {"input": order_input}, customer.token))["placeOrder"]
    assert order["status"] == "CONFIRMED"
    medium_red_sku = next(v["sku"] for v in shirt["variants"] if v["id"] == medium_red)
    assert order["items"] == [{"quantity": 2, "sku": medium_red_sku, "variant": {"id": medium_red}}]
    stock = ok(await ask(router, STOCK, {"id": shirt["id"]}, shop.admin))["product"]
    on_hand = {v["id"]: v["stock"]["onHand"] for v in stock["variants"]}
    assert on_hand == {v["id"]: {medium_red: 3, large_blue: 3}.get(v["id"], 0) for v in shirt["variants"]}
    assert stock["stock"] == {"onHand": 6}

    # Its image, uploaded through the router (GraphQL multipart request), served as a cacheable thumbnail.
    operations = {
        "query": UPLOAD,
        "variables": {"productId": shirt["id"], "file": None, "variantId": medium_red},
    }
    async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
        uploaded = await client.post(
            "/graphql",
            data={"operations": orjson.dumps(operations).decode(), "map": '{"0": ["variables.file"]}'},
            files={"0": ("shirt.png", png(), "image/png")},
            headers={"Authorization": f"Bearer {shop.admin}", "apollo-require-preflight": "true"},
        )
        thumbnail = ok(uploaded.json())["addProductMedia"]["thumbnail"]
        assert (
            thumbnail["contentType"] == "image/webp" and max(thumbnail["width"], thumbnail["height"]) <= 160
        )
        first = await client.get(thumbnail["url"])
        assert first.status_code == 200 and first.content
        etag = first.headers["etag"]
        assert "max-age" in first.headers["cache-control"]
        again = await client.get(thumbnail["url"], headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""

    # Archived: inventory itself refuses its variants, whoever asks (here the saga's SERVICE token, directly).
    assert (
        ok(await ask(router, ARCHIVE, {"id": shirt["id"]}, shop.admin))["archiveProduct"]["active"] is False
    )

    async def reserve() -> Any:
        reservation = {
            "key": f"journey-{uuid.uuid4().hex}",
            "orderId": str(uuid.uuid4()),
            "lines": [{"variantId": large_blue, "quantity": 1}],
        }
        return await shop.gql("inventory", RESERVE, {"input": reservation}, token=shop.service)

    refused = await eventually(
        reserve,
        lambda answer: answer.error_codes == ["NOT_SELLABLE"],
        within=15,
        what="inventory to learn of the archive from products' events",
    )
    assert refused.data is None or refused.data.get("reserveStock") is None
