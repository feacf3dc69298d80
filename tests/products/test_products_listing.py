"""Query.products (listing, full-text search, cursors), Query.product, Query.categories and _entities."""

from __future__ import annotations

import uuid

import pytest
from products_helpers import (
    ARCHIVE,
    PRODUCT,
    PRODUCTS,
    create,
    list_products,
    walk,
)
from sqlalchemy import text

from myshop.demo.products import seed
from shared.pagination import encode_cursor


async def seed_catalog(products_db, count: int) -> None:
    async with products_db() as session, session.begin():
        await seed(session, count)


def ids(connection) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def test_listing_shows_products_newest_first_with_a_total(gql, admin_token):
    first = await create(gql, admin_token, name="First Bowl")
    second = await create(gql, admin_token, name="Second Bowl")
    third = await create(gql, admin_token, name="Third Bowl")

    listed = await list_products(gql)

    assert ids(listed) == [third["id"], second["id"], first["id"]]
    assert listed["totalCount"] == 3
    assert listed["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": listed["edges"][0]["cursor"],
        "endCursor": listed["edges"][-1]["cursor"],
    }


async def test_search_ranks_a_name_match_above_a_description_match(gql, admin_token):
    mentions = await create(gql, admin_token, name="Desk Lamp", description="Pairs well with a zebra rug.")
    named = await create(gql, admin_token, name="Zebra Lamp", description="A lamp with stripes.")
    await create(gql, admin_token, name="Floor Lamp", description="Tall and bright.")

    found = await list_products(gql, search="zebra")

    assert ids(found) == [named["id"], mentions["id"]]
    assert found["totalCount"] == 2


async def test_search_ranks_a_category_match_between_name_and_description(gql, admin_token):
    in_description = await create(gql, admin_token, name="Sturdy Box", description="Great for garden tools.")
    in_category = await create(gql, admin_token, name="Sturdy Crate", category="Garden")
    in_name = await create(gql, admin_token, name="Garden Shears", category="Tools")

    found = await list_products(gql, search="garden")

    assert ids(found) == [in_name["id"], in_category["id"], in_description["id"]]


async def test_search_stems_words_and_understands_web_search_syntax(gql, admin_token):
    shoes = await create(gql, admin_token, name="Trail Running Shoes")
    await create(gql, admin_token, name="Running Socks")

    stemmed = await list_products(gql, search="run shoe")
    excluded = await list_products(gql, search='"running" -socks')

    assert ids(stemmed) == [shoes["id"]]
    assert ids(excluded) == [shoes["id"]]


async def test_search_matching_nothing_is_an_empty_connection(gql, admin_token):
    await create(gql, admin_token, name="Teapot")

    found = await list_products(gql, search="submarine")

    assert found == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None},
    }


@pytest.mark.parametrize("search", ["the", "&|!():*", "'", "\\", "a <-> b", "-"])
async def test_search_with_only_stop_words_or_operators_is_not_an_error(gql, admin_token, search):
    await create(gql, admin_token, name="Teapot")

    found = await list_products(gql, search=search)

    assert found["edges"] == []


async def test_blank_search_is_no_search(gql, admin_token):
    older = await create(gql, admin_token, name="Older Cup")
    newer = await create(gql, admin_token, name="Newer Cup")

    assert ids(await list_products(gql, search="   ")) == [newer["id"], older["id"]]
    assert ids(await list_products(gql, search="")) == [newer["id"], older["id"]]


async def test_exact_sku_search_finds_the_product(gql, admin_token):
    wanted = await create(gql, admin_token, sku="OUT-000123-LB", name="Packable Jacket")
    await create(gql, admin_token, sku="OUT-000124-LB", name="Other Jacket")

    assert ids(await list_products(gql, search="OUT-000123-LB")) == [wanted["id"]]
    assert ids(await list_products(gql, search="out-000123-lb")) == [wanted["id"]]


async def test_category_filter_lists_only_that_category(gql, admin_token):
    kitchen = await create(gql, admin_token, name="Kitchen Scale", category="Kitchen")
    await create(gql, admin_token, name="Garden Scale", category="Garden")

    assert ids(await list_products(gql, category="Kitchen")) == [kitchen["id"]]
    assert ids(await list_products(gql, category="Kitchen", search="scale")) == [kitchen["id"]]
    assert (await list_products(gql, category="Toys"))["edges"] == []


async def test_walking_pages_of_seven_returns_every_product_once_newest_first(gql, products_db):
    await seed_catalog(products_db, 60)
    # A third of them share one created_at: the id must break the tie, also across page boundaries.
    async with products_db() as session, session.begin():
        await session.execute(
            text(
                "UPDATE products SET created_at = '2025-01-01T00:00:00Z' WHERE ctid IN "
                "(SELECT ctid FROM products ORDER BY sku LIMIT 20)"
            )
        )
        expected = (
            (await session.execute(text("SELECT id::text FROM products ORDER BY created_at DESC, id DESC")))
            .scalars()
            .all()
        )

    walked = await walk(gql, first=7)

    assert [node["id"] for node in walked] == expected
    assert len(set(expected)) == 60


async def test_walking_search_pages_returns_every_match_once_in_rank_order(gql, products_db):
    # Matches in many demo products, most of them with equal ranks: the id breaks the ties across pages.
    search = "gift or warranty"
    await seed_catalog(products_db, 300)
    ranked = (
        "SELECT id::text FROM products WHERE search_vector @@ websearch_to_tsquery('english', :q) "
        "ORDER BY ts_rank(search_vector, websearch_to_tsquery('english', :q)) DESC, id"
    )
    async with products_db() as session:
        expected = (await session.execute(text(ranked), {"q": search})).scalars().all()

    walked = await walk(gql, first=7, search=search)

    assert len(expected) > 30
    assert [node["id"] for node in walked] == expected


async def test_walking_a_category_returns_its_products_once(gql, products_db):
    await seed_catalog(products_db, 120)
    everything = await walk(gql, first=100)
    kitchen = [node["id"] for node in everything if node["category"] == "Home & Kitchen"]

    walked = await walk(gql, first=7, category="Home & Kitchen")

    assert [node["id"] for node in walked] == kitchen
    assert len(kitchen) > 7


async def test_second_page_says_it_has_a_previous_page(gql, admin_token):
    for n in range(3):
        await create(gql, admin_token, name=f"Plate {n}")
    first_page = await list_products(gql, first=2)

    second_page = await list_products(gql, first=2, after=first_page["pageInfo"]["endCursor"])

    assert first_page["pageInfo"]["hasNextPage"] is True
    assert second_page["pageInfo"]["hasPreviousPage"] is True
    assert second_page["pageInfo"]["hasNextPage"] is False
    assert len(second_page["edges"]) == 1


@pytest.mark.parametrize("first", [0, -1, 101, 100000])
async def test_page_size_outside_1_to_100_is_bad_user_input(gql, first):
    resp = await gql("products", PRODUCTS, {"first": first})

    assert resp.status_code == 200
    assert resp.error_codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        encode_cursor("users:newest", ["2025-01-01T00:00:00+00:00", str(uuid.uuid4())]),
        "eyJ2IjoxfQ",  # {"v":1}
    ],
)
async def test_invalid_cursor_is_bad_user_input(gql, cursor):
    resp = await gql("products", PRODUCTS, {"after": cursor})

    assert resp.status_code == 200
    assert resp.error_codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("made_with", "used_with"),
    [
        ({"search": "lamp"}, {"search": "mug"}),
        ({"search": "lamp"}, {}),
        ({}, {"search": "lamp"}),
        ({"category": "Kitchen"}, {"category": "Garden"}),
        ({}, {"category": "Kitchen"}),
    ],
)
async def test_cursor_from_another_listing_is_bad_user_input(gql, admin_token, made_with, used_with):
    for n in range(3):
        await create(gql, admin_token, name=f"Lamp Mug {n}", category="Kitchen")
    cursor = (await list_products(gql, first=1, **made_with))["pageInfo"]["endCursor"]

    resp = await gql("products", PRODUCTS, {"first": 1, "after": cursor, **used_with})

    assert resp.status_code == 200
    assert resp.error_codes == ["BAD_USER_INPUT"]


async def test_admin_lists_archived_products_when_asking(gql, admin_token):
    active = await create(gql, admin_token, name="Active Jug")
    archived = await create(gql, admin_token, name="Archived Jug")
    await gql("products", ARCHIVE, {"id": archived["id"]}, token=admin_token)

    listed = await list_products(gql, token=admin_token, includeArchived=True)
    searched = await list_products(gql, token=admin_token, includeArchived=True, search="jug")

    assert ids(listed) == [archived["id"], active["id"]]
    assert sorted(ids(searched)) == sorted([archived["id"], active["id"]])


@pytest.mark.parametrize(("role", "code"), [("CUSTOMER", "FORBIDDEN"), (None, "UNAUTHENTICATED")])
async def test_only_admins_list_archived_products(gql, issuer, role, code):
    token = issuer.issue(str(uuid.uuid4()), [role]).token if role else None

    resp = await gql("products", PRODUCTS, {"includeArchived": True}, token=token)

    assert resp.status_code == 200
    assert resp.error_codes == [code]


async def test_product_by_unknown_or_malformed_id_is_null(gql):
    unknown = await gql("products", PRODUCT, {"id": str(uuid.uuid4())})
    malformed = await gql("products", PRODUCT, {"id": "not-a-uuid"})

    assert unknown.ok() == {"product": None}
    assert malformed.ok() == {"product": None}


async def test_categories_count_active_products_by_name(gql, admin_token):
    await create(gql, admin_token, category="Kitchen")
    await create(gql, admin_token, category="Kitchen")
    await create(gql, admin_token, category="Garden")
    archived = await create(gql, admin_token, category="Toys")
    await gql("products", ARCHIVE, {"id": archived["id"]}, token=admin_token)

    resp = await gql("products", "{ categories { name productCount } }")

    assert resp.ok()["categories"] == [
        {"name": "Garden", "productCount": 1},
        {"name": "Kitchen", "productCount": 2},
    ]


async def test_entities_resolve_several_products_in_order(gql, admin_token):
    one = await create(gql, admin_token, name="One")
    two = await create(gql, admin_token, name="Two")
    archived = await create(gql, admin_token, name="Gone")
    await gql("products", ARCHIVE, {"id": archived["id"]}, token=admin_token)
    representations = [
        {"__typename": "Product", "id": two["id"]},
        {"__typename": "Product", "id": str(uuid.uuid4())},
        {"__typename": "Product", "id": one["id"]},
        {"__typename": "Product", "id": "not-a-uuid"},
        {"__typename": "Product", "id": archived["id"]},
        {"__typename": "Product", "id": two["id"]},
    ]

    resp = await gql(
        "products",
        "query($r: [_Any!]!) { _entities(representations: $r) "
        "{ ... on Product { id name active price { amount currency } } } }",
        {"r": representations},
    )

    entities = resp.ok()["_entities"]
    assert [e and e["name"] for e in entities] == ["Two", None, "One", None, "Gone", "Two"]
    assert entities[4]["active"] is False
    assert entities[0]["price"] == {"amount": 1299, "currency": "USD"}


async def test_total_count_is_only_computed_when_asked(gql, admin_token):
    await create(gql, admin_token)

    resp = await gql("products", "{ products { edges { node { id } } totalCount } }")
    without = await gql("products", "{ products { edges { node { id } } } }")
    by_fragment = await gql(
        "products", "{ products { ...Counted } } fragment Counted on ProductConnection { totalCount }"
    )

    assert resp.ok()["products"]["totalCount"] == 1
    assert "totalCount" not in without.ok()["products"]
    assert by_fragment.ok()["products"]["totalCount"] == 1
