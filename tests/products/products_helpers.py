"""GraphQL documents and helpers of the products tests (imported by the test modules of this folder)."""

from __future__ import annotations

import uuid
from typing import Any

PRODUCT_FIELDS = """
    id sku name description price { amount currency } category active createdAt updatedAt
"""

CREATE = f"""
mutation Create($input: CreateProductInput!) {{ createProduct(input: $input) {{ {PRODUCT_FIELDS} }} }}
"""
UPDATE = f"""
mutation Update($id: ID!, $input: UpdateProductInput!) {{
  updateProduct(id: $id, input: $input) {{ {PRODUCT_FIELDS} }}
}}
"""
ARCHIVE = f"mutation Archive($id: ID!) {{ archiveProduct(id: $id) {{ {PRODUCT_FIELDS} }} }}"
PRODUCT = f"query One($id: ID!) {{ product(id: $id) {{ {PRODUCT_FIELDS} }} }}"
PRODUCTS = """
query List(
  $search: String, $category: String, $first: Int, $after: String, $includeArchived: Boolean! = false
) {
  products(search: $search, category: $category, first: $first, after: $after,
           includeArchived: $includeArchived) {
    totalCount
    edges { cursor node { id sku name category active } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def product_input(**overrides: Any) -> dict[str, Any]:
    """A valid createProduct input; a fresh SKU each time unless given."""
    values: dict[str, Any] = {
        "sku": f"TST-{uuid.uuid4().hex[:8].upper()}",
        "name": "Plain Test Mug",
        "description": "A mug for tests.",
        "price": {"amount": 1299, "currency": "USD"},
        "category": "Kitchen",
    }
    values.update(overrides)
    return values


async def create(gql: Any, token: str, **overrides: Any) -> dict[str, Any]:
    resp = await gql("products", CREATE, {"input": product_input(**overrides)}, token=token)
    return resp.ok()["createProduct"]


async def list_products(gql: Any, token: str | None = None, **variables: Any) -> dict[str, Any]:
    resp = await gql("products", PRODUCTS, variables, token=token)
    return resp.ok()["products"]


async def walk(gql: Any, first: int = 7, **variables: Any) -> list[dict[str, Any]]:
    """Every node of a listing, following endCursor page after page."""
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(1000):
        page = await list_products(gql, first=first, after=after, **variables)
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("pagination never ended")
