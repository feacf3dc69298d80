"""The demo's products sold in options: inserted with their options and variants once (a second run adds
nothing), readable like any product, and each variant stocked by its own id in inventory."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from myshop.demo import inventory as inventory_demo
from myshop.demo import variants as variants_demo
from myshop.demo.catalog_variants import DEMO_VARIANT_PRODUCTS

TEE = next(item for item in DEMO_VARIANT_PRODUCTS if item.sku == "FSH-TEE-HARBOR")
READ = """
query($id: ID!) {
  product(id: $id) {
    sku options { name values }
    variants { id sku price { amount currency } weight selectedOptions { name value } }
    priceRange { min { amount } max { amount } }
  }
}
"""


async def test_the_demo_products_with_variants_are_inserted_once(gql, products_db):
    async with products_db() as session, session.begin():
        first = await variants_demo.seed(session)
    async with products_db() as session, session.begin():
        again = await variants_demo.seed(session)
        counts = (await session.execute(text("SELECT count(*) FROM product_variants"))).scalar_one()

    total = sum(len(item.variants) for item in DEMO_VARIANT_PRODUCTS)
    products = len(DEMO_VARIANT_PRODUCTS)
    assert first == [f"products: {products} demo products with {total} variants inserted, 0 already there"]
    assert again == [
        f"products: 0 demo products with 0 variants inserted, {len(DEMO_VARIANT_PRODUCTS)} already there"
    ]
    assert counts == total


async def test_the_demo_t_shirt_comes_in_three_sizes_and_two_colours(gql, products_db):
    async with products_db() as session, session.begin():
        await variants_demo.seed(session)

    tee: dict[str, Any] = (await gql("products", READ, {"id": str(TEE.id)})).ok()["product"]

    assert tee["options"] == [
        {"name": "Size", "values": ["S", "M", "L"]},
        {"name": "Colour", "values": ["Navy", "White"]},
    ]
    assert [v["id"] for v in tee["variants"]] == [str(v.id) for v in TEE.variants]
    large = [v for v in tee["variants"] if v["selectedOptions"][0]["value"] == "L"]
    assert {(v["price"]["amount"], v["weight"]) for v in large} == {(2199, 210)}
    assert tee["priceRange"] == {"min": {"amount": 1999}, "max": {"amount": 2199}}
    assert len({v["sku"] for v in tee["variants"]}) == 6


async def test_the_demo_stocks_each_variant_once_by_its_id(api, engines):
    sessions = async_sessionmaker(engines["inventory"], expire_on_commit=False)
    async with sessions() as session, session.begin():
        first = await inventory_demo.seed_variant_stock(session)
    async with sessions() as session, session.begin():
        again = await inventory_demo.seed_variant_stock(session)
        rows = (await session.execute(text("SELECT count(*) FROM stock_items"))).scalar_one()

    variants = [variant for item in DEMO_VARIANT_PRODUCTS for variant in item.variants]
    assert first == [f"inventory: {len(variants)} demo variants stocked, 0 already had stock"]
    assert again == [f"inventory: 0 demo variants stocked, {len(variants)} already had stock"]
    assert rows == len(variants)
    # every state shows: sold out, nearly, plenty
    assert {0, 1, 2, 3, 4} & {v.quantity for v in variants} and min(v.quantity for v in variants) == 0
    assert max(v.quantity for v in variants) >= 10
