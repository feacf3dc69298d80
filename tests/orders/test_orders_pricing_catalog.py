"""The catalog fetch of orders (peers.CATALOG_QUERY against the real products subgraph) brings what pricing
needs: tax class, weight and category, beside the price."""

from __future__ import annotations

import uuid
from typing import Any

from subgraphs.orders.peers import CATALOG_QUERY, CatalogProduct, catalog_product

CREATE = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"


async def create(gql: Any, token: str, sku: str, **extra: Any) -> str:
    product = {
        "sku": sku,
        "name": sku,
        "price": {"amount": 1250, "currency": "EUR"},
        "category": "Books",
        **extra,
    }
    return (await gql("products", CREATE, {"input": product}, token=token)).ok()["createProduct"]["id"]


async def test_the_catalog_fetch_carries_tax_class_weight_and_category(gql, issuer):
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    book = await create(gql, admin, "BOOK-1", taxClass="reduced", weight=420)
    unknown = await create(gql, admin, "BOOK-2")
    service = issuer.issue_service_token("orders").token
    representations = [{"__typename": "Product", "id": pid} for pid in (book, unknown)]

    data = (await gql("products", CATALOG_QUERY, {"representations": representations}, token=service)).ok()

    assert [catalog_product(entity) for entity in data["_entities"]] == [
        CatalogProduct(
            book, "BOOK-1", True, 1250, "EUR", tax_class="reduced", weight_grams=420, category="Books"
        ),
        CatalogProduct(
            unknown, "BOOK-2", True, 1250, "EUR", tax_class="standard", weight_grams=0, category="Books"
        ),
    ]
