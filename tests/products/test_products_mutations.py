"""createProduct, updateProduct and archiveProduct over HTTP: admin only, validated, SKUs unique."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest
from products_helpers import (
    ARCHIVE,
    CREATE,
    PRODUCT,
    UPDATE,
    create,
    list_products,
    product_input,
)


async def test_admin_creates_a_product_with_its_price_in_minor_units(gql, admin_token):
    created = await create(
        gql,
        admin_token,
        sku="ktc-100-blue",
        name="  Enamel Mug  ",
        price={"amount": 1499, "currency": "eur"},
        category=" Kitchen ",
    )

    assert created["sku"] == "KTC-100-BLUE"
    assert created["name"] == "Enamel Mug"
    assert created["category"] == "Kitchen"
    assert created["price"] == {"amount": 1499, "currency": "EUR"}
    assert created["active"] is True
    assert created["createdAt"] == created["updatedAt"]
    uuid.UUID(created["id"])


async def test_created_product_is_readable_by_id(gql, admin_token):
    created = await create(gql, admin_token)

    fetched = (await gql("products", PRODUCT, {"id": created["id"]})).ok()["product"]

    assert fetched == created


@pytest.mark.parametrize(("role", "code"), [("CUSTOMER", "FORBIDDEN"), (None, "UNAUTHENTICATED")])
async def test_only_admins_create_products(gql, issuer, role, code):
    token = issuer.issue(str(uuid.uuid4()), [role]).token if role else None

    resp = await gql("products", CREATE, {"input": product_input()}, token=token)

    assert resp.status_code == 200
    assert resp.error_codes == [code]
    assert resp.data is None


@pytest.mark.parametrize(("role", "code"), [("CUSTOMER", "FORBIDDEN"), (None, "UNAUTHENTICATED")])
async def test_only_admins_update_and_archive_products(gql, admin_token, issuer, role, code):
    created = await create(gql, admin_token)
    token = issuer.issue(str(uuid.uuid4()), [role]).token if role else None

    update = await gql("products", UPDATE, {"id": created["id"], "input": {"name": "Hacked"}}, token=token)
    archive = await gql("products", ARCHIVE, {"id": created["id"]}, token=token)

    assert update.error_codes == [code]
    assert archive.error_codes == [code]
    unchanged = (await gql("products", PRODUCT, {"id": created["id"]})).ok()["product"]
    assert unchanged == created


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price": {"amount": -1, "currency": "USD"}}, "price.amount"),
        ({"price": {"amount": 100, "currency": "XYZ"}}, "price.currency"),
        ({"price": {"amount": 100, "currency": "dollars"}}, "price.currency"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"description": "x" * 5001}, "description"),
        ({"category": ""}, "category"),
        ({"category": "c" * 101}, "category"),
        ({"sku": "A"}, "sku"),
        ({"sku": "-LEADING-DASH"}, "sku"),
        ({"sku": "HAS SPACE"}, "sku"),
        ({"sku": "Ü-123"}, "sku"),
        ({"sku": "A" * 65}, "sku"),
    ],
)
async def test_invalid_product_input_is_bad_user_input_with_the_field(gql, admin_token, overrides, field):
    resp = await gql("products", CREATE, {"input": product_input(**overrides)}, token=admin_token)

    assert resp.status_code == 200
    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == field
    assert (await list_products(gql))["totalCount"] == 0


async def test_amount_beyond_graphql_int_is_bad_user_input(gql, admin_token):
    resp = await gql(
        "products",
        CREATE,
        {"input": product_input(price={"amount": 2**31, "currency": "USD"})},
        token=admin_token,
    )

    assert resp.status_code == 200
    assert resp.error_codes == ["BAD_USER_INPUT"]


async def test_duplicate_sku_is_a_conflict_whatever_its_case(gql, admin_token):
    await create(gql, admin_token, sku="DUP-001")

    resp = await gql("products", CREATE, {"input": product_input(sku=" dup-001 ")}, token=admin_token)

    assert resp.status_code == 200
    assert resp.error_codes == ["CONFLICT"]
    assert (await list_products(gql))["totalCount"] == 1


async def test_concurrent_creates_of_one_sku_make_one_product_and_one_conflict(gql, admin_token):
    variables = [{"input": product_input(sku="RACE-1", name=f"Racer {n}")} for n in range(4)]

    responses = await asyncio.gather(*(gql("products", CREATE, v, token=admin_token) for v in variables))

    codes = sorted(code for resp in responses for code in resp.error_codes)
    assert codes == ["CONFLICT"] * 3
    assert (await list_products(gql))["totalCount"] == 1


async def test_update_changes_only_the_given_fields(gql, admin_token):
    created = await create(gql, admin_token, name="Old Name", description="Old description")

    resp = await gql(
        "products",
        UPDATE,
        {"id": created["id"], "input": {"name": "New Name", "price": {"amount": 999, "currency": "GBP"}}},
        token=admin_token,
    )

    updated = resp.ok()["updateProduct"]
    assert updated["name"] == "New Name"
    assert updated["price"] == {"amount": 999, "currency": "GBP"}
    unchanged = {"id", "sku", "description", "category", "active", "createdAt"}
    assert {k: updated[k] for k in unchanged} == {k: created[k] for k in unchanged}
    assert datetime.fromisoformat(updated["updatedAt"]) > datetime.fromisoformat(created["updatedAt"])
    assert (await gql("products", PRODUCT, {"id": created["id"]})).ok()["product"] == updated


async def test_search_finds_a_product_by_its_new_name_after_update(gql, admin_token):
    created = await create(gql, admin_token, name="Ordinary Kettle", description="Boils water.")

    await gql(
        "products", UPDATE, {"id": created["id"], "input": {"name": "Zeppelin Kettle"}}, token=admin_token
    )

    assert [e["node"]["id"] for e in (await list_products(gql, search="zeppelin"))["edges"]] == [
        created["id"]
    ]
    assert (await list_products(gql, search="ordinary"))["edges"] == []


async def test_update_with_null_for_a_field_is_bad_user_input(gql, admin_token):
    created = await create(gql, admin_token)

    resp = await gql("products", UPDATE, {"id": created["id"], "input": {"name": None}}, token=admin_token)

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "name"


async def test_update_with_negative_price_is_bad_user_input(gql, admin_token):
    created = await create(gql, admin_token)

    resp = await gql(
        "products",
        UPDATE,
        {"id": created["id"], "input": {"price": {"amount": -5, "currency": "USD"}}},
        token=admin_token,
    )

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "price.amount"


async def test_update_with_no_fields_changes_nothing(gql, admin_token):
    created = await create(gql, admin_token)

    resp = await gql("products", UPDATE, {"id": created["id"], "input": {}}, token=admin_token)

    assert resp.ok()["updateProduct"] == created


async def test_update_or_archive_of_an_unknown_product_is_not_found(gql, admin_token):
    missing = str(uuid.uuid4())

    update = await gql("products", UPDATE, {"id": missing, "input": {"name": "X"}}, token=admin_token)
    archive = await gql("products", ARCHIVE, {"id": missing}, token=admin_token)

    assert update.error_codes == ["NOT_FOUND"]
    assert archive.error_codes == ["NOT_FOUND"]


async def test_mutation_with_a_malformed_id_is_bad_user_input(gql, admin_token):
    update = await gql("products", UPDATE, {"id": "not-a-uuid", "input": {"name": "X"}}, token=admin_token)
    archive = await gql("products", ARCHIVE, {"id": "42"}, token=admin_token)

    assert update.error_codes == ["BAD_USER_INPUT"]
    assert archive.error_codes == ["BAD_USER_INPUT"]


async def test_archived_product_leaves_listings_but_is_still_readable_by_id(gql, admin_token):
    kept = await create(gql, admin_token, name="Kept Teapot")
    archived = await create(gql, admin_token, name="Archived Teapot")

    resp = await gql("products", ARCHIVE, {"id": archived["id"]}, token=admin_token)

    assert resp.ok()["archiveProduct"]["active"] is False
    listed = await list_products(gql, search="teapot")
    assert [e["node"]["id"] for e in listed["edges"]] == [kept["id"]]
    assert listed["totalCount"] == 1
    assert [e["node"]["id"] for e in (await list_products(gql))["edges"]] == [kept["id"]]
    by_id = (await gql("products", PRODUCT, {"id": archived["id"]})).ok()["product"]
    assert by_id["active"] is False
    assert by_id["name"] == "Archived Teapot"


async def test_archiving_twice_is_harmless_and_update_can_restore(gql, admin_token):
    created = await create(gql, admin_token)
    await gql("products", ARCHIVE, {"id": created["id"]}, token=admin_token)

    again = await gql("products", ARCHIVE, {"id": created["id"]}, token=admin_token)
    restored = await gql(
        "products", UPDATE, {"id": created["id"], "input": {"active": True}}, token=admin_token
    )

    assert again.ok()["archiveProduct"]["active"] is False
    assert restored.ok()["updateProduct"]["active"] is True
    assert [e["node"]["id"] for e in (await list_products(gql))["edges"]] == [created["id"]]
