"""Options and variants through the products subgraph's HTTP app: createProduct with options and variants,
setProductOptions, createProductVariant, updateProductVariant, archiveProductVariant; their rules, limits and
coded errors; the events they write to the outbox (and publish)."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import pytest
from eventually import eventually
from products_helpers import ARCHIVE, UPDATE, create, list_products, product_input
from sqlalchemy import select

from shared.outbox import Event, stream_name
from subgraphs.products.events import ProductEvent
from subgraphs.products.models import outbox

VARIANT_FIELDS = "id sku price { amount currency } weight active position selectedOptions { name value }"
PRODUCT_WITH_VARIANTS = f"""
    id sku price {{ amount currency }} active
    options {{ name values }}
    variants(includeArchived: true) {{ {VARIANT_FIELDS} }}
    priceRange {{ min {{ amount currency }} max {{ amount currency }} }}
"""
CREATE = f"""
mutation Create($input: CreateProductInput!) {{ createProduct(input: $input) {{ {PRODUCT_WITH_VARIANTS} }} }}
"""
PRODUCT = f"query One($id: ID!) {{ product(id: $id) {{ {PRODUCT_WITH_VARIANTS} }} }}"
ACTIVE_VARIANTS = (
    "query Active($id: ID!) { product(id: $id) { variants { sku } priceRange { min { amount } } } }"
)
SET_OPTIONS = f"""
mutation SetOptions($productId: ID!, $options: [ProductOptionInput!]!) {{
  setProductOptions(productId: $productId, options: $options) {{ {PRODUCT_WITH_VARIANTS} }}
}}
"""
CREATE_VARIANT = f"""
mutation CreateVariant($productId: ID!, $input: ProductVariantInput!) {{
  createProductVariant(productId: $productId, input: $input) {{ {VARIANT_FIELDS} }}
}}
"""
UPDATE_VARIANT = f"""
mutation UpdateVariant($id: ID!, $input: UpdateProductVariantInput!) {{
  updateProductVariant(id: $id, input: $input) {{ {VARIANT_FIELDS} }}
}}
"""
ARCHIVE_VARIANT = (
    f"mutation ArchiveVariant($id: ID!) {{ archiveProductVariant(id: $id) {{ {VARIANT_FIELDS} }} }}"
)

SIZES = ["S", "M", "L"]
COLOURS = ["Red", "Blue"]


def tee_input(**overrides: Any) -> dict[str, Any]:
    """A T-shirt in 3 sizes x 2 colours = 6 variants; L ones cost more, the others inherit the price."""
    sku = f"TEE-{uuid.uuid4().hex[:6].upper()}"
    variants = [
        {
            "sku": f"{sku}-{size}-{colour[:3].upper()}",
            "optionValues": [{"name": "Size", "value": size}, {"name": "Colour", "value": colour}],
            **({"price": {"amount": 2500, "currency": "USD"}, "weight": 250} if size == "L" else {}),
        }
        for size in SIZES
        for colour in COLOURS
    ]
    values = product_input(
        sku=sku,
        name="Test Tee",
        price={"amount": 2000, "currency": "USD"},
        weight=200,
        options=[{"name": "Size", "values": SIZES}, {"name": "Colour", "values": COLOURS}],
        variants=variants,
    )
    values.update(overrides)
    return values


async def create_tee(gql, token: str, **overrides: Any) -> dict[str, Any]:
    return (await gql("products", CREATE, {"input": tee_input(**overrides)}, token=token)).ok()[
        "createProduct"
    ]


async def read(gql, product_id: str) -> dict[str, Any]:
    return (await gql("products", PRODUCT, {"id": product_id})).ok()["product"]


def by_options(product: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(o["value"] for o in v["selectedOptions"]): v for v in product["variants"]}


async def outbox_events(products_db, *types: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, payload) of the outbox rows of these types, in the order they were written."""
    table = outbox.table
    async with products_db() as session:
        rows = await session.execute(
            select(table.c.event_type, table.c.payload)
            .where(table.c.event_type.in_(types))
            .order_by(table.c.id)
        )
        return [(row[0], row[1]) for row in rows]


async def variant_events(products_db) -> list[tuple[str, dict[str, Any]]]:
    return await outbox_events(
        products_db, ProductEvent.VARIANT_CREATED, ProductEvent.VARIANT_UPDATED, ProductEvent.VARIANT_ARCHIVED
    )


def assert_refused(resp, code: str, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == 200
    assert resp.error_codes == [code], resp.errors
    assert resp.data is None
    extensions = resp.errors[0]["extensions"]
    if field is not None:
        assert extensions["field"] == field
    return extensions


# --- creating a product with options and variants ----------------------------------------------------


async def test_a_product_with_two_options_of_three_values_has_six_variants(gql, admin_token):
    created = await create_tee(gql, admin_token)

    assert created["options"] == [{"name": "Size", "values": SIZES}, {"name": "Colour", "values": COLOURS}]
    variants = by_options(created)
    assert sorted(variants) == sorted((size, colour) for size in SIZES for colour in COLOURS)
    assert [v["position"] for v in created["variants"]] == list(range(6))
    assert {v["id"] for v in created["variants"]}.isdisjoint({created["id"]})  # new ids, none the product's
    assert variants[("M", "Blue")]["price"] == {"amount": 2000, "currency": "USD"}  # inherited
    assert variants[("M", "Blue")]["weight"] == 200
    assert variants[("L", "Blue")]["price"] == {"amount": 2500, "currency": "USD"}  # its own
    assert variants[("L", "Blue")]["weight"] == 250
    assert variants[("L", "Blue")]["sku"] == f"{created['sku']}-L-BLU"
    assert created["priceRange"] == {
        "min": {"amount": 2000, "currency": "USD"},
        "max": {"amount": 2500, "currency": "USD"},
    }
    assert await read(gql, created["id"]) == created


async def test_option_and_value_names_are_matched_whatever_their_case_and_stored_as_the_option_spells_them(
    gql, admin_token
):
    created = await create_tee(
        gql,
        admin_token,
        options=[{"name": " Size ", "values": [" S "]}],
        variants=[{"sku": f"CASE-{uuid.uuid4().hex[:6]}", "optionValues": [{"name": "size", "value": "s"}]}],
    )

    assert created["options"] == [{"name": "Size", "values": ["S"]}]
    assert created["variants"][0]["selectedOptions"] == [{"name": "Size", "value": "S"}]


async def test_creating_with_variants_emits_product_updated_with_their_ids_and_one_variant_created_each(
    gql, admin_token, products_db
):
    created = await create_tee(gql, admin_token)

    [(_, product_event)] = await outbox_events(products_db, ProductEvent.PRODUCT_UPDATED)
    events = await variant_events(products_db)

    assert product_event["variantIds"] == [v["id"] for v in created["variants"]]
    assert [kind for kind, _ in events] == ["VariantCreated"] * 6
    large_blue = by_options(created)[("L", "Blue")]
    assert {payload["variantId"]: payload for _, payload in events}[large_blue["id"]] == {
        "variantId": large_blue["id"],
        "productId": created["id"],
        "sku": large_blue["sku"],
        "price": {"amount": 2500, "currency": "USD"},
        "weight": 250,
        "optionValues": {"Size": "L", "Colour": "Blue"},
        "active": True,
        "productActive": True,
        "change": "created",
    }
    inheriting = next(p for _, p in events if p["optionValues"] == {"Size": "S", "Colour": "Red"})
    assert (inheriting["price"], inheriting["weight"]) == ({"amount": 2000, "currency": "USD"}, 200)


async def test_a_product_created_without_variants_has_one_sharing_its_id_and_sku(
    gql, admin_token, products_db
):
    created = (await gql("products", CREATE, {"input": product_input()}, token=admin_token)).ok()[
        "createProduct"
    ]

    [variant] = created["variants"]
    events = await variant_events(products_db)

    assert (variant["id"], variant["sku"], variant["selectedOptions"]) == (created["id"], created["sku"], [])
    assert [(kind, p["variantId"], p["productId"], p["optionValues"]) for kind, p in events] == [
        ("VariantCreated", created["id"], created["id"], {})
    ]


async def test_options_without_variants_give_the_products_own_variant_each_first_value(gql, admin_token):
    created = await create_tee(gql, admin_token, variants=None)

    [variant] = created["variants"]
    assert variant["id"] == created["id"]
    assert variant["selectedOptions"] == [{"name": "Size", "value": "S"}, {"name": "Colour", "value": "Red"}]


def _tee_variant(size: str = "S", colour: str = "Red", **overrides: Any) -> dict[str, Any]:
    values = {
        "sku": f"V-{uuid.uuid4().hex[:8]}",
        "optionValues": [{"name": "Size", "value": size}, {"name": "Colour", "value": colour}],
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"options": [{"name": f"O{n}", "values": ["x"]} for n in range(4)], "variants": None}, "options"),
        (
            {"options": [{"name": "Size", "values": [str(n) for n in range(21)]}], "variants": None},
            "options[0].values",
        ),
        ({"options": [{"name": "Size", "values": []}], "variants": None}, "options[0].values"),
        ({"options": [{"name": "  ", "values": ["S"]}], "variants": None}, "options[0].name"),
        ({"options": [{"name": "x" * 51, "values": ["S"]}], "variants": None}, "options[0].name"),
        # A facet token joins name and value with the unit separator; no control character fits an option.
        ({"options": [{"name": "Si\x1fze", "values": ["S"]}], "variants": None}, "options[0].name"),
        ({"options": [{"name": "Size", "values": ["S", "M\nL"]}], "variants": None}, "options[0].values[1]"),
        (
            {
                "options": [{"name": "Size", "values": ["S"]}, {"name": "SIZE", "values": ["M"]}],
                "variants": None,
            },
            "options[1].name",
        ),
        ({"options": [{"name": "Size", "values": ["S", "s"]}], "variants": None}, "options[0].values[1]"),
        ({"options": [{"name": "Size", "values": ["v" * 51]}], "variants": None}, "options[0].values[0]"),
        ({"options": [{"name": "Size", "values": [""]}], "variants": None}, "options[0].values[0]"),
        ({"variants": []}, "variants"),
        ({"variants": [_tee_variant(size=f"{n}") for n in range(101)]}, "variants"),
        (
            {"variants": [_tee_variant(optionValues=[{"name": "Size", "value": "S"}])]},
            "variants[0].optionValues",
        ),
        (
            {"variants": [_tee_variant(), _tee_variant(size="XL")]},
            "variants[1].optionValues[0].value",
        ),
        (
            {
                "variants": [
                    _tee_variant(optionValues=[{"name": "Fit", "value": "S"}, {"name": "Size", "value": "S"}])
                ]
            },
            "variants[0].optionValues[0].name",
        ),
        (
            {
                "variants": [
                    _tee_variant(
                        optionValues=[
                            {"name": "Size", "value": "S"},
                            {"name": "size", "value": "M"},
                        ]
                    )
                ]
            },
            "variants[0].optionValues[1].name",
        ),
        (
            {"variants": [_tee_variant(price={"amount": 100, "currency": "EUR"})]},
            "variants[0].price.currency",
        ),
        ({"variants": [_tee_variant(price={"amount": -1, "currency": "USD"})]}, "variants[0].price.amount"),
        ({"variants": [_tee_variant(weight=-5)]}, "variants[0].weight"),
        ({"variants": [_tee_variant(sku="no spaces")]}, "variants[0].sku"),
    ],
)
async def test_invalid_options_and_variants_are_bad_user_input_with_the_field(
    gql, admin_token, overrides, field
):
    resp = await gql("products", CREATE, {"input": tee_input(**overrides)}, token=admin_token)

    assert_refused(resp, "BAD_USER_INPUT", field)
    assert (await list_products(gql))["totalCount"] == 0


@pytest.mark.parametrize(
    ("variants", "field"),
    [
        ([_tee_variant(sku="SAME-1"), _tee_variant(size="M", sku="same-1")], "variants[1].sku"),
        ([_tee_variant(), _tee_variant(size="s", colour="RED")], "variants[1].optionValues"),
    ],
)
async def test_two_variants_alike_in_one_product_are_a_conflict(gql, admin_token, variants, field):
    resp = await gql("products", CREATE, {"input": tee_input(variants=variants)}, token=admin_token)

    assert_refused(resp, "CONFLICT", field)
    assert (await list_products(gql))["totalCount"] == 0


async def test_an_archived_variant_may_share_an_active_ones_values(gql, admin_token):
    created = await create_tee(gql, admin_token, variants=[_tee_variant(), _tee_variant(active=False)])

    assert [v["active"] for v in created["variants"]] == [True, False]


async def test_skus_are_unique_across_products_and_variants(gql, admin_token):
    plain = await create(gql, admin_token)
    tee = await create_tee(gql, admin_token)
    variant_sku = tee["variants"][0]["sku"]

    variant_taking_a_product_sku = await gql(
        "products", CREATE, {"input": tee_input(variants=[_tee_variant(sku=plain["sku"])])}, token=admin_token
    )
    product_taking_a_variant_sku = await gql(
        "products", CREATE, {"input": tee_input(sku=variant_sku.lower())}, token=admin_token
    )
    plain_product_taking_a_variant_sku = await gql(
        "products", CREATE, {"input": product_input(sku=variant_sku)}, token=admin_token
    )
    added_variant_taking_a_product_sku = await gql(
        "products",
        CREATE_VARIANT,
        {"productId": tee["id"], "input": _tee_variant(size="M", sku=plain["sku"], active=False)},
        token=admin_token,
    )

    assert_refused(variant_taking_a_product_sku, "CONFLICT", "variants[0].sku")
    assert_refused(product_taking_a_variant_sku, "CONFLICT", "sku")
    assert_refused(plain_product_taking_a_variant_sku, "CONFLICT", "sku")
    assert_refused(added_variant_taking_a_product_sku, "CONFLICT", "sku")
    assert (await list_products(gql))["totalCount"] == 2


async def test_a_variant_may_carry_its_own_products_sku(gql, admin_token):
    sku = f"OWN-{uuid.uuid4().hex[:6].upper()}"

    created = await create_tee(gql, admin_token, sku=sku, variants=[_tee_variant(sku=sku)])

    assert created["variants"][0]["sku"] == sku


async def test_concurrent_new_variants_of_one_sku_on_two_products_make_one_variant_and_one_conflict(
    gql, admin_token
):
    # Nothing but the SKU lock makes these exclude each other: a product SKU and a variant SKU live in two
    # tables; here both are variants of different products, and one of them is also another product's SKU.
    first, second = await create_tee(gql, admin_token), await create_tee(gql, admin_token)
    sku = f"RACE-{uuid.uuid4().hex[:6].upper()}"

    responses = await asyncio.gather(
        gql(
            "products",
            CREATE_VARIANT,
            {"productId": first["id"], "input": _tee_variant("M", "Red", sku=sku)},
            token=admin_token,
        ),
        gql(
            "products",
            CREATE_VARIANT,
            {"productId": second["id"], "input": _tee_variant("M", "Red", sku=sku)},
            token=admin_token,
        ),
        gql("products", CREATE, {"input": tee_input(sku=sku, variants=[_tee_variant()])}, token=admin_token),
    )

    assert sorted(code for resp in responses for code in resp.error_codes) == ["CONFLICT", "CONFLICT"]


# --- adding and changing variants ----------------------------------------------------------------------


async def test_an_added_variant_gets_the_next_position_and_a_variant_created(gql, admin_token, products_db):
    tee = await create_tee(gql, admin_token, variants=[_tee_variant()])

    added = await gql(
        "products",
        CREATE_VARIANT,
        {
            "productId": tee["id"],
            "input": _tee_variant("m", "blue", price={"amount": 1800, "currency": "USD"}),
        },
        token=admin_token,
    )
    variant = added.ok()["createProductVariant"]
    events = await variant_events(products_db)

    assert variant["position"] == 1
    assert variant["selectedOptions"] == [{"name": "Size", "value": "M"}, {"name": "Colour", "value": "Blue"}]
    assert variant["price"] == {"amount": 1800, "currency": "USD"}
    assert events[-1] == (
        "VariantCreated",
        {
            "variantId": variant["id"],
            "productId": tee["id"],
            "sku": variant["sku"],
            "price": {"amount": 1800, "currency": "USD"},
            "weight": 200,
            "optionValues": {"Size": "M", "Colour": "Blue"},
            "active": True,
            "productActive": True,
            "change": "created",
        },
    )
    assert [v["id"] for v in (await read(gql, tee["id"]))["variants"]][-1] == variant["id"]


async def test_an_added_variant_with_an_active_variants_values_is_a_conflict(gql, admin_token):
    tee = await create_tee(gql, admin_token)

    resp = await gql(
        "products",
        CREATE_VARIANT,
        {"productId": tee["id"], "input": _tee_variant("L", "Blue")},
        token=admin_token,
    )

    extensions = assert_refused(resp, "CONFLICT", "optionValues")
    assert extensions["variantId"] == by_options(tee)[("L", "Blue")]["id"]


async def test_a_product_has_at_most_100_active_variants(gql, admin_token):
    sizes = [f"S{n}" for n in range(20)]
    colours = ["A", "B", "C", "D", "E", "F"]
    variants = [_tee_variant(size, colour) for size in sizes for colour in colours[:5]]
    tee = await create_tee(
        gql,
        admin_token,
        options=[{"name": "Size", "values": sizes}, {"name": "Colour", "values": colours}],
        variants=variants,
    )

    one_more = await gql(
        "products",
        CREATE_VARIANT,
        {"productId": tee["id"], "input": _tee_variant("S0", "F")},
        token=admin_token,
    )
    archived_one_more = await gql(
        "products",
        CREATE_VARIANT,
        {"productId": tee["id"], "input": _tee_variant("S0", "F", active=False)},
        token=admin_token,
    )

    assert len(tee["variants"]) == 100
    assert_refused(one_more, "BAD_USER_INPUT", "active")
    assert archived_one_more.ok()["createProductVariant"]["active"] is False


async def test_update_changes_only_the_given_fields_and_a_null_price_inherits_again(
    gql, admin_token, products_db
):
    tee = await create_tee(gql, admin_token)
    large = by_options(tee)[("L", "Red")]

    renamed = await gql(
        "products", UPDATE_VARIANT, {"id": large["id"], "input": {"sku": "tee-renamed-1"}}, token=admin_token
    )
    inheriting = await gql(
        "products",
        UPDATE_VARIANT,
        {"id": large["id"], "input": {"price": None, "weight": None}},
        token=admin_token,
    )
    unchanged = await gql(
        "products", UPDATE_VARIANT, {"id": large["id"], "input": {"price": None}}, token=admin_token
    )
    events = await variant_events(products_db)

    assert renamed.ok()["updateProductVariant"]["sku"] == "TEE-RENAMED-1"
    assert renamed.ok()["updateProductVariant"]["price"] == {"amount": 2500, "currency": "USD"}
    after = inheriting.ok()["updateProductVariant"]
    assert (after["sku"], after["price"]["amount"], after["weight"]) == ("TEE-RENAMED-1", 2000, 200)
    assert unchanged.ok()["updateProductVariant"] == after
    assert [(kind, p["sku"], p["price"]["amount"]) for kind, p in events[6:]] == [
        ("VariantUpdated", "TEE-RENAMED-1", 2500),
        ("VariantUpdated", "TEE-RENAMED-1", 2000),
    ]


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"input": {"price": {"amount": 10, "currency": "GBP"}}}, "BAD_USER_INPUT", "price.currency"),
        ({"input": {"active": None}}, "BAD_USER_INPUT", "active"),
        ({"input": {"sku": None}}, "BAD_USER_INPUT", "sku"),
        ({"input": {"optionValues": [{"name": "Size", "value": "M"}]}}, "BAD_USER_INPUT", "optionValues"),
        ({"input": {"optionValues": None}}, "BAD_USER_INPUT", "optionValues"),
        (
            {"input": {"optionValues": [{"name": "Size", "value": "M"}, {"name": "Colour", "value": "Red"}]}},
            "CONFLICT",
            "optionValues",
        ),
        ({"id": str(uuid.uuid4()), "input": {"sku": "X-1"}}, "NOT_FOUND", "id"),
        ({"id": "not-an-id", "input": {"sku": "X-1"}}, "BAD_USER_INPUT", "id"),
    ],
)
async def test_invalid_variant_updates_are_refused_with_a_code_and_the_field(
    gql, admin_token, variables, code, field
):
    tee = await create_tee(gql, admin_token)
    variables = {"id": by_options(tee)[("S", "Red")]["id"], **variables}

    resp = await gql("products", UPDATE_VARIANT, variables, token=admin_token)

    assert_refused(resp, code, field)
    assert await read(gql, tee["id"]) == tee


# --- archive and restore ------------------------------------------------------------------------------


async def test_archiving_a_variant_hides_it_emits_variant_archived_once_and_restoring_brings_it_back(
    gql, admin_token, products_db
):
    tee = await create_tee(gql, admin_token)
    large = {v["sku"] for v in tee["variants"] if v["price"]["amount"] == 2500}

    for variant in tee["variants"]:
        if variant["sku"] in large:
            archived = await gql("products", ARCHIVE_VARIANT, {"id": variant["id"]}, token=admin_token)
            assert archived.ok()["archiveProductVariant"]["active"] is False
    again = await gql(
        "products", ARCHIVE_VARIANT, {"id": by_options(tee)[("L", "Red")]["id"]}, token=admin_token
    )
    visible = (await gql("products", ACTIVE_VARIANTS, {"id": tee["id"]})).ok()["product"]
    restored = await gql(
        "products",
        UPDATE_VARIANT,
        {"id": by_options(tee)[("L", "Red")]["id"], "input": {"active": True}},
        token=admin_token,
    )
    events = (await variant_events(products_db))[6:]

    assert again.ok()["archiveProductVariant"]["active"] is False
    assert {v["sku"] for v in visible["variants"]} == {v["sku"] for v in tee["variants"]} - large
    assert visible["priceRange"]["min"]["amount"] == 2000
    assert restored.ok()["updateProductVariant"]["active"] is True
    assert [(kind, p["change"], p["active"]) for kind, p in events] == [
        *[("VariantArchived", "archived", False)] * 2,
        ("VariantUpdated", "updated", True),
    ]
    assert events[-1][1]["optionValues"] == {"Size": "L", "Colour": "Red"}


async def test_restoring_a_variant_whose_values_an_active_one_took_is_a_conflict(gql, admin_token):
    tee = await create_tee(gql, admin_token)
    small_red = by_options(tee)[("S", "Red")]
    (await gql("products", ARCHIVE_VARIANT, {"id": small_red["id"]}, token=admin_token)).ok()
    replacement = await gql(
        "products",
        CREATE_VARIANT,
        {"productId": tee["id"], "input": _tee_variant("S", "Red")},
        token=admin_token,
    )
    replacement.ok()

    resp = await gql(
        "products", UPDATE_VARIANT, {"id": small_red["id"], "input": {"active": True}}, token=admin_token
    )

    assert_refused(resp, "CONFLICT", "optionValues")


async def test_archiving_the_product_emits_variant_updated_not_sellable_for_each_variant(
    gql, admin_token, products_db
):
    tee = await create_tee(gql, admin_token)

    (await gql("products", ARCHIVE, {"id": tee["id"]}, token=admin_token)).ok()
    (await gql("products", UPDATE, {"id": tee["id"], "input": {"active": True}}, token=admin_token)).ok()
    product_events = await outbox_events(products_db, ProductEvent.PRODUCT_UPDATED)
    events = (await variant_events(products_db))[6:]

    assert [(p["change"], p["active"], len(p["variantIds"])) for _, p in product_events] == [
        ("created", True, 6),
        ("archived", False, 6),
        ("updated", True, 6),
    ]
    assert [(kind, p["active"], p["productActive"]) for kind, p in events] == [
        *[("VariantUpdated", True, False)] * 6,
        *[("VariantUpdated", True, True)] * 6,
    ]


async def test_a_product_price_change_updates_only_the_variants_inheriting_it(gql, admin_token, products_db):
    tee = await create_tee(gql, admin_token)

    changed = await gql(
        "products",
        UPDATE,
        {"id": tee["id"], "input": {"price": {"amount": 2200, "currency": "USD"}}},
        token=admin_token,
    )
    changed.ok()
    events = (await variant_events(products_db))[6:]
    after = by_options(await read(gql, tee["id"]))

    assert sorted(p["optionValues"]["Size"] for _, p in events) == ["M", "M", "S", "S"]
    assert {p["price"]["amount"] for _, p in events} == {2200}
    assert (after[("S", "Red")]["price"]["amount"], after[("L", "Red")]["price"]["amount"]) == (2200, 2500)


async def test_a_product_currency_change_is_refused_while_variants_have_prices_of_their_own(gql, admin_token):
    tee = await create_tee(gql, admin_token)

    resp = await gql(
        "products",
        UPDATE,
        {"id": tee["id"], "input": {"price": {"amount": 1900, "currency": "EUR"}}},
        token=admin_token,
    )

    assert_refused(resp, "CONFLICT", "price.currency")
    assert (await read(gql, tee["id"]))["price"] == {"amount": 2000, "currency": "USD"}


# --- changing options under existing variants -------------------------------------------------------


async def test_an_added_option_gives_the_products_own_variant_its_first_value(gql, admin_token, products_db):
    mug = await create(gql, admin_token)

    resp = await gql(
        "products",
        SET_OPTIONS,
        {"productId": mug["id"], "options": [{"name": "Size", "values": ["S", "M"]}]},
        token=admin_token,
    )
    product = resp.ok()["setProductOptions"]
    medium = await gql(
        "products",
        CREATE_VARIANT,
        {
            "productId": mug["id"],
            "input": {"sku": "MUG-M-1", "optionValues": [{"name": "Size", "value": "M"}]},
        },
        token=admin_token,
    )
    medium.ok()
    product_events = await outbox_events(products_db, ProductEvent.PRODUCT_UPDATED)
    events = await variant_events(products_db)

    [own] = product["variants"]
    assert (own["id"], own["selectedOptions"]) == (mug["id"], [{"name": "Size", "value": "S"}])
    assert [v["sku"] for v in (await read(gql, mug["id"]))["variants"]] == [mug["sku"], "MUG-M-1"]
    assert [p["change"] for _, p in product_events] == ["created", "updated"]
    assert [(kind, p["variantId"], p["optionValues"]) for kind, p in events[1:]] == [
        ("VariantUpdated", mug["id"], {"Size": "S"}),
        ("VariantCreated", medium.data["createProductVariant"]["id"], {"Size": "M"}),
    ]


async def test_setting_the_same_options_again_writes_nothing(gql, admin_token, products_db):
    tee = await create_tee(gql, admin_token)
    options = [{"name": "Size", "values": SIZES}, {"name": "Colour", "values": COLOURS}]

    resp = await gql("products", SET_OPTIONS, {"productId": tee["id"], "options": options}, token=admin_token)

    assert resp.ok()["setProductOptions"] == tee
    assert len(await outbox_events(products_db, ProductEvent.PRODUCT_UPDATED)) == 1
    assert len(await variant_events(products_db)) == 6


async def test_respelling_a_value_renames_it_in_every_active_variant(gql, admin_token):
    tee = await create_tee(gql, admin_token)
    options = [{"name": "size", "values": ["Small", "m", "L", "XL"]}, {"name": "Colour", "values": COLOURS}]

    refused = await gql(
        "products", SET_OPTIONS, {"productId": tee["id"], "options": options}, token=admin_token
    )
    options[0]["values"][0] = "s"
    resp = await gql("products", SET_OPTIONS, {"productId": tee["id"], "options": options}, token=admin_token)

    extensions = assert_refused(refused, "CONFLICT", "options[0].values")
    assert sorted(extensions["variantIds"]) == sorted(
        v["id"] for k, v in by_options(tee).items() if k[0] == "S"
    )
    product = resp.ok()["setProductOptions"]
    assert product["options"][0] == {"name": "size", "values": ["s", "m", "L", "XL"]}
    assert sorted(by_options(product)) == sorted((s, c) for s in ["s", "m", "L"] for c in COLOURS)


async def test_a_removed_value_only_archived_variants_have_is_allowed_and_restoring_them_asks_for_values(
    gql, admin_token
):
    tee = await create_tee(gql, admin_token)
    for key, variant in by_options(tee).items():
        if key[0] == "L":
            (await gql("products", ARCHIVE_VARIANT, {"id": variant["id"]}, token=admin_token)).ok()
    options = [{"name": "Size", "values": ["S", "M", "XL"]}, {"name": "Colour", "values": COLOURS}]
    large_red = by_options(tee)[("L", "Red")]["id"]

    (await gql("products", SET_OPTIONS, {"productId": tee["id"], "options": options}, token=admin_token)).ok()
    bare = await gql(
        "products", UPDATE_VARIANT, {"id": large_red, "input": {"active": True}}, token=admin_token
    )
    moved = await gql(
        "products",
        UPDATE_VARIANT,
        {
            "id": large_red,
            "input": {"active": True, "optionValues": _tee_variant("xl", "red")["optionValues"]},
        },
        token=admin_token,
    )

    assert_refused(bare, "BAD_USER_INPUT", "optionValues")
    restored = moved.ok()["updateProductVariant"]
    assert restored["active"] is True
    assert restored["selectedOptions"] == [
        {"name": "Size", "value": "XL"},
        {"name": "Colour", "value": "Red"},
    ]
    archived_large = [v for v in (await read(gql, tee["id"]))["variants"] if not v["active"]]
    assert {v["selectedOptions"][0]["value"] for v in archived_large} == {"L"}  # kept as they were sold


async def test_removing_an_option_that_leaves_two_active_variants_alike_is_a_conflict(gql, admin_token):
    tee = await create_tee(gql, admin_token)

    alike = await gql(
        "products",
        SET_OPTIONS,
        {"productId": tee["id"], "options": [{"name": "Size", "values": SIZES}]},
        token=admin_token,
    )
    assert_refused(alike, "CONFLICT", "options")
    for key, variant in by_options(tee).items():
        if key[1] != "Red":
            (await gql("products", ARCHIVE_VARIANT, {"id": variant["id"]}, token=admin_token)).ok()
    resp = await gql(
        "products",
        SET_OPTIONS,
        {"productId": tee["id"], "options": [{"name": "Size", "values": SIZES}]},
        token=admin_token,
    )

    product = resp.ok()["setProductOptions"]
    assert product["options"] == [{"name": "Size", "values": SIZES}]
    assert sorted(k for k, v in by_options(product).items() if v["active"]) == [("L",), ("M",), ("S",)]


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"options": [{"name": "Size", "values": ["S"] * 2}]}, "BAD_USER_INPUT", "options[0].values[1]"),
        ({"productId": str(uuid.uuid4())}, "NOT_FOUND", "productId"),
        ({"productId": "nope"}, "BAD_USER_INPUT", "productId"),
    ],
)
async def test_invalid_option_changes_are_refused_with_a_code_and_the_field(
    gql, admin_token, variables, code, field
):
    mug = await create(gql, admin_token)
    variables = {"productId": mug["id"], "options": [], **variables}

    resp = await gql("products", SET_OPTIONS, variables, token=admin_token)

    assert_refused(resp, code, field)


# --- who may, and what is published -------------------------------------------------------------------


async def test_only_admins_manage_options_and_variants(gql, admin_token, customer_token):
    tee = await create_tee(gql, admin_token)
    variant_id = tee["variants"][0]["id"]
    attempts = [
        (SET_OPTIONS, {"productId": tee["id"], "options": []}),
        (CREATE_VARIANT, {"productId": tee["id"], "input": _tee_variant("M", "Red")}),
        (UPDATE_VARIANT, {"id": variant_id, "input": {"sku": "HACKED-1"}}),
        (ARCHIVE_VARIANT, {"id": variant_id}),
    ]

    for document, variables in attempts:
        for token, code in ((customer_token, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
            resp = await gql("products", document, variables, token=token)
            assert resp.error_codes == [code]
    assert await read(gql, tee["id"]) == tee


async def test_variant_events_reach_the_products_stream(gql, admin_token, redis):
    tee = await create_tee(gql, admin_token, variants=[_tee_variant()])
    (await gql("products", ARCHIVE_VARIANT, {"id": tee["variants"][0]["id"]}, token=admin_token)).ok()
    stream = stream_name(os.environ["MYSHOP_REDIS_PREFIX"], "products")

    async def archived() -> list[Event]:
        entries = [Event.from_fields(fields) for _, fields in await redis.xrange(stream)]
        return [e for e in entries if e.type == ProductEvent.VARIANT_ARCHIVED]

    [event] = await eventually(archived, what="VariantArchived published")

    assert (event.producer, event.aggregate_id) == ("products", tee["variants"][0]["id"])
    assert event.payload["productId"] == tee["id"]
