"""Product.taxClass and Product.weight: defaults, validation, updates, cached reads and the demo catalog."""

from __future__ import annotations

import pytest
from products_helpers import create, product_input

from myshop.demo.catalog import generate_products

FIELDS = "id taxClass weight"
CREATE = f"mutation C($input: CreateProductInput!) {{ createProduct(input: $input) {{ {FIELDS} }} }}"
UPDATE = f"""
mutation U($id: ID!, $input: UpdateProductInput!) {{ updateProduct(id: $id, input: $input) {{ {FIELDS} }} }}
"""
PRODUCT = f"query P($id: ID!) {{ product(id: $id) {{ {FIELDS} }} }}"


async def test_a_product_created_without_them_is_standard_rated_with_no_weight(gql, admin_token):
    created = await create(gql, admin_token)

    product = (await gql("products", PRODUCT, {"id": created["id"]})).ok()["product"]

    assert (product["taxClass"], product["weight"]) == ("standard", None)


async def test_an_admin_sets_them_at_creation_and_changes_them_and_reads_see_the_change(gql, admin_token):
    created = (
        await gql(
            "products",
            CREATE,
            {"input": product_input(taxClass=" Reduced ", weight=350)},
            token=admin_token,
        )
    ).ok()["createProduct"]
    assert (created["taxClass"], created["weight"]) == ("reduced", 350)
    await gql("products", PRODUCT, {"id": created["id"]})  # cached now

    updated = (
        await gql(
            "products",
            UPDATE,
            {"id": created["id"], "input": {"taxClass": "zero", "weight": 0}},
            token=admin_token,
        )
    ).ok()["updateProduct"]

    assert (updated["taxClass"], updated["weight"]) == ("zero", 0)
    product = (await gql("products", PRODUCT, {"id": created["id"]})).ok()["product"]
    assert (product["taxClass"], product["weight"]) == ("zero", 0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"taxClass": ""}, "taxClass"),
        ({"taxClass": "two words"}, "taxClass"),
        ({"taxClass": "x" * 33}, "taxClass"),
        ({"weight": -1}, "weight"),
        ({"weight": 1_000_001}, "weight"),
    ],
)
async def test_a_bad_tax_class_or_weight_is_refused_with_its_field(gql, admin_token, overrides, field):
    resp = await gql("products", CREATE, {"input": product_input(**overrides)}, token=admin_token)

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == field


@pytest.mark.parametrize("change", [{"taxClass": None}, {"weight": None}])
async def test_an_update_refuses_null(gql, admin_token, change):
    created = await create(gql, admin_token)

    resp = await gql("products", UPDATE, {"id": created["id"], "input": change}, token=admin_token)

    assert resp.error_codes == ["BAD_USER_INPUT"]


def test_the_demo_catalog_rates_food_and_books_reduced_and_weighs_everything():
    items = generate_products(300)

    assert {item.tax_class for item in items if item.category in {"Books", "Grocery"}} == {"reduced"}
    assert {item.tax_class for item in items if item.category not in {"Books", "Grocery"}} == {"standard"}
    assert all(item.weight_grams > 0 for item in items)
    assert [item.weight_grams for item in items] == [item.weight_grams for item in generate_products(300)]
