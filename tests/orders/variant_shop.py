"""Products sold in several variants, for the orders tests of variants.

The products subgraph of this base has variants (tables, reads, `ProductVariant` entities) but no admin
mutations to create them yet, so `variant_product` creates the product through the API and then gives it its
options and variants in the products database (what products' migration and repository write: rows of
`product_options` and `product_variants`). Its own single variant (sharing the product's id) goes: a product
sold in several variants has no variant of its own id. Stock is received through inventory's `adjustStock`
with the variant's id, which names that variant's stock before and after inventory keeps stock per variant.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from orders_shop import ADJUST, Shop
from sqlalchemy import text

VARIANT_STOCK = """
query VariantStock($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on ProductVariant { id stock { available reserved onHand } }
  }
}"""
PRODUCT_STOCK = """
query Stock($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Product { id stock { available reserved onHand } } }
}"""


@dataclass(frozen=True)
class Variant:
    id: str
    sku: str
    options: dict[str, str]
    price: int  # its effective price
    weight: int | None  # its effective weight


@dataclass(frozen=True)
class VariantProduct:
    id: str
    name: str
    variants: list[Variant]

    def variant(self, **options: str) -> Variant:
        return next(v for v in self.variants if v.options == options)


async def variant_product(
    shop: Shop,
    *,
    options: dict[str, list[str]],
    variants: list[tuple[dict[str, str], int | None, int | None]],
    price: int = 1500,
    weight: int = 200,
    currency: str = "USD",
    stock: int = 10,
) -> VariantProduct:
    """A product with `options` and `variants` [(option values, own price or None, own weight or None)],
    each variant with `stock` units."""
    sku = f"VAR-{uuid.uuid4().hex[:10].upper()}"
    name = f"T-Shirt {sku}"
    product_input = {
        "sku": sku,
        "name": name,
        "description": "",
        "price": {"amount": price, "currency": currency},
        "category": "Apparel",
        "weight": weight,
    }
    created = await shop.gql(
        "products",
        "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }",
        {"input": product_input},
        token=shop.admin,
    )
    product_id = created.ok()["createProduct"]["id"]
    made: list[Variant] = []
    async with shop.engines["products"].begin() as conn:
        await conn.execute(text("DELETE FROM product_variants WHERE product_id = :p"), {"p": product_id})
        for position, (option, values) in enumerate(options.items()):
            await conn.execute(
                text(
                    "INSERT INTO product_options (product_id, position, name, values) "
                    "VALUES (:p, :position, :name, :values)"
                ),
                {"p": product_id, "position": position, "name": option, "values": values},
            )
        for position, (values, own_price, own_weight) in enumerate(variants):
            variant_id = str(uuid.uuid4())
            variant_sku = f"{sku}-{'-'.join(values.values())}".upper()
            await conn.execute(
                text(
                    "INSERT INTO product_variants "
                    "(id, product_id, sku, price_amount, weight_grams, option_values, position) "
                    "VALUES (:id, :p, :sku, :price, :weight, CAST(:values AS jsonb), :position)"
                ),
                {
                    "id": variant_id,
                    "p": product_id,
                    "sku": variant_sku,
                    "price": own_price,
                    "weight": own_weight,
                    "values": json.dumps(values),
                    "position": position,
                },
            )
            made.append(
                Variant(
                    variant_id,
                    variant_sku,
                    values,
                    own_price if own_price is not None else price,
                    own_weight if own_weight is not None else weight,
                )
            )
    if stock:
        for variant in made:
            await receive(shop, variant.id, stock)
    return VariantProduct(product_id, name, made)


async def receive(shop: Shop, variant_id: str, units: int) -> None:
    (await shop.gql("inventory", ADJUST, {"id": variant_id, "delta": units}, token=shop.admin)).ok()


async def archive_variant(shop: Shop, variant_id: str) -> None:
    async with shop.engines["products"].begin() as conn:
        await conn.execute(
            text("UPDATE product_variants SET active = false WHERE id = :id"), {"id": variant_id}
        )


async def variant_stock(shop: Shop, variant_id: str) -> dict[str, Any]:
    """A variant's stock as inventory tells it: `ProductVariant.stock` where inventory keeps stock per
    variant, else (this base) the stock kept under the variant's id."""
    variant = [{"__typename": "ProductVariant", "id": variant_id}]
    answer = await shop.gql("inventory", VARIANT_STOCK, {"representations": variant})
    if answer.errors:
        product = [{"__typename": "Product", "id": variant_id}]
        answer = await shop.gql("inventory", PRODUCT_STOCK, {"representations": product})
    return answer.ok()["_entities"][0]["stock"]
