"""Products sold in several variants, for the orders tests of variants: created through products' admin
mutations (`createProduct` with options and variants: none shares the product's id), stocked per variant
through inventory's `adjustStock` given the variant's id, archived through `archiveProductVariant`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from orders_shop import ADJUST, Shop

VARIANT_STOCK = """
query VariantStock($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on ProductVariant { id stock { available reserved onHand } }
  }
}"""
CREATE = """
mutation C($input: CreateProductInput!) {
  createProduct(input: $input) {
    id variants { id sku price { amount } weight selectedOptions { name value } }
  }
}"""
ARCHIVE = "mutation A($id: ID!) { archiveProductVariant(id: $id) { id active } }"


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
        "options": [{"name": option, "values": values} for option, values in options.items()],
        "variants": [
            {
                "sku": f"{sku}-{'-'.join(values.values())}".upper(),
                "price": {"amount": own_price, "currency": currency} if own_price is not None else None,
                "weight": own_weight,
                "optionValues": [{"name": n, "value": v} for n, v in values.items()],
            }
            for values, own_price, own_weight in variants
        ],
    }
    created = await shop.gql("products", CREATE, {"input": product_input}, token=shop.admin)
    product = created.ok()["createProduct"]
    made = [
        Variant(
            variant["id"],
            variant["sku"],
            {option["name"]: option["value"] for option in variant["selectedOptions"]},
            variant["price"]["amount"],
            variant["weight"],
        )
        for variant in product["variants"]
    ]
    if stock:
        for variant in made:
            await receive(shop, variant.id, stock)
    return VariantProduct(product["id"], name, made)


async def receive(shop: Shop, variant_id: str, units: int) -> None:
    (await shop.gql("inventory", ADJUST, {"id": variant_id, "delta": units}, token=shop.admin)).ok()


async def archive_variant(shop: Shop, variant_id: str) -> None:
    (await shop.gql("products", ARCHIVE, {"id": variant_id}, token=shop.admin)).ok()


async def variant_stock(shop: Shop, variant_id: str) -> dict[str, Any]:
    """A variant's stock as inventory tells it (`ProductVariant.stock`)."""
    variant = [{"__typename": "ProductVariant", "id": variant_id}]
    answer = await shop.gql("inventory", VARIANT_STOCK, {"representations": variant})
    return answer.ok()["_entities"][0]["stock"]
