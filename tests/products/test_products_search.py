"""Faceted search: `products(filter:, sort:)` matches a product by ONE of its variants matching every variant
filter, sorts by relevance, newest or price with keyset cursors, and counts facets over the whole result."""

from __future__ import annotations

import json
import uuid

import pytest
from products_helpers import create
from search_helpers import (
    FACETS,
    Variant,
    product_with_variants,
    search,
    set_product_active,
    walk_search,
)
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from myshop.demo.products import seed
from subgraphs.products import facets_repository, search_repository
from subgraphs.products.search_repository import OptionMatch, ProductFilter, ProductSort

COLOURS = ["Red", "Blue", "Green"]
SIZES = ["S", "M", "L"]


def names(connection) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


async def tshirt(gql, admin_token, products_db) -> dict:
    """2 options x 3 values = 6 variants... and 3 more: Red at the list price, Blue 2500, Green 3000; two
    stocked (Red M, Blue L)."""
    prices = {"Red": None, "Blue": 2500, "Green": 3000}
    stocked = {("Red", "M"): 5, ("Blue", "L"): 3}
    variants = [
        Variant({"Colour": c, "Size": s}, price=prices[c], units=stocked.get((c, s), 0))
        for c in COLOURS
        for s in SIZES
    ]
    return await product_with_variants(
        gql,
        admin_token,
        products_db,
        variants,
        options={"Colour": COLOURS, "Size": SIZES},
        name="Tee Shirt",
        category="Apparel",
        price={"amount": 2000, "currency": "USD"},
    )


async def acceptance_catalog(gql, admin_token, products_db) -> None:
    await tshirt(gql, admin_token, products_db)

    async def other(name: str, variants: list[Variant], category: str = "Apparel", price: int = 2500) -> dict:
        return await product_with_variants(
            gql,
            admin_token,
            products_db,
            variants,
            options={"Colour": sorted({v.options["Colour"] for v in variants if "Colour" in v.options})},
            name=name,
            category=category,
            price={"amount": price, "currency": "USD"},
        )

    # No colour at all.
    await create(gql, admin_token, name="Plain Mug", price={"amount": 2500, "currency": "USD"})
    # Blue (out of stock) and Red (in stock): no ONE variant is blue and in stock.
    await other("Split Hoodie", [Variant({"Colour": "Blue"}), Variant({"Colour": "Red"}, units=4)])
    # Blue and in stock, too dear.
    await other("Dear Cap", [Variant({"Colour": "Blue"}, units=2)], price=5000)
    # Blue, in stock, in range, but that variant is archived.
    await other(
        "Retired Scarf", [Variant({"Colour": "Blue"}, units=2, active=False), Variant({"Colour": "Red"})]
    )
    # Blue, in stock, in range, the product archived.
    socks = await other("Archived Socks", [Variant({"Colour": "Blue"}, units=9)], price=2400)
    await set_product_active(products_db, socks["id"], False)
    # Blue, in stock, in range, another category: found.
    await other("Blue Jacket", [Variant({"Colour": "Blue", "Size": "M"}, price=2600, units=1)], "Outerwear")


ACCEPTANCE_FILTER = {
    "inStock": True,
    "options": [{"name": "Colour", "values": ["Blue"]}],
    "price": {"min": 2400, "max": 2600},
}

# The facets, straight from the tables: products (active) with an active variant matching every filter.
EXPECTED_FACETS_SQL = """
WITH matching AS (
  SELECT v.product_id, p.category, v.option_values, coalesce(v.price_amount, p.price_amount) AS price,
         p.price_currency AS currency
  FROM product_variants v JOIN products p ON p.id = v.product_id
  WHERE p.active AND v.active AND v.available_units > 0 AND v.option_values ->> 'Colour' = 'Blue'
    AND coalesce(v.price_amount, p.price_amount) BETWEEN 2400 AND 2600
)
SELECT 'category', category, '', count(DISTINCT product_id) FROM matching GROUP BY category
UNION ALL
SELECT 'option', e.key, e.value, count(DISTINCT product_id) FROM matching, jsonb_each_text(option_values) e
  GROUP BY e.key, e.value
UNION ALL
SELECT 'price', currency, min(price)::text || '-' || max(price)::text, count(DISTINCT product_id)
  FROM matching GROUP BY currency
"""


async def test_in_stock_colour_and_price_find_only_products_with_one_variant_matching_all(
    gql, admin_token, products_db
):
    await acceptance_catalog(gql, admin_token, products_db)

    found = await search(gql, filter=ACCEPTANCE_FILTER, sort="PRICE_ASC")

    assert names(found) == ["Tee Shirt", "Blue Jacket"]
    assert found["totalCount"] == 2


async def test_facet_counts_match_the_tables(gql, admin_token, products_db):
    await acceptance_catalog(gql, admin_token, products_db)

    answer = (await gql("products", FACETS, {"filter": ACCEPTANCE_FILTER})).ok()["products"]
    async with products_db() as session:
        rows = (await session.execute(text(EXPECTED_FACETS_SQL))).all()

    facets = answer["facets"]
    expected_categories = {name: n for kind, name, _, n in rows if kind == "category"}
    expected_options = {(name, value): n for kind, name, value, n in rows if kind == "option"}
    [(_, currency, span, priced)] = [row for row in rows if row[0] == "price"]
    assert {c["value"]: c["count"] for c in facets["categories"]} == expected_categories
    assert expected_categories == {"Apparel": 1, "Outerwear": 1}
    assert {
        (o["name"], v["value"]): v["count"] for o in facets["options"] for v in o["values"]
    } == expected_options
    assert expected_options == {("Colour", "Blue"): 2, ("Size", "L"): 1, ("Size", "M"): 1}
    assert facets["inStock"] == 2 == answer["totalCount"]
    assert facets["priceRanges"] == [
        {
            "min": {"amount": int(span.split("-")[0]), "currency": currency},
            "max": {"amount": int(span.split("-")[1]), "currency": currency},
            "count": priced,
        }
    ]
    assert span == "2500-2600"


async def test_facets_without_filters_count_every_listed_product(gql, admin_token, products_db):
    await tshirt(gql, admin_token, products_db)
    await create(
        gql, admin_token, name="Plain Mug", category="Kitchen", price={"amount": 900, "currency": "USD"}
    )

    facets = (await gql("products", FACETS, {})).ok()["products"]["facets"]

    assert facets["categories"] == [{"value": "Apparel", "count": 1}, {"value": "Kitchen", "count": 1}]
    assert facets["options"] == [
        {"name": "Colour", "values": [{"value": c, "count": 1} for c in sorted(COLOURS)]},
        {"name": "Size", "values": [{"value": s, "count": 1} for s in sorted(SIZES)]},
    ]
    assert facets["inStock"] == 1
    assert facets["priceRanges"] == [
        {"min": {"amount": 900, "currency": "USD"}, "max": {"amount": 3000, "currency": "USD"}, "count": 2}
    ]


async def test_price_sort_uses_the_lowest_matching_variant_price(gql, admin_token, products_db):
    await tshirt(gql, admin_token, products_db)  # 2000 (Red), 2500 (Blue), 3000 (Green)
    await create(gql, admin_token, name="Mid Mug", price={"amount": 2200, "currency": "USD"})

    cheapest = await search(gql, sort="PRICE_ASC")
    dearest = await search(gql, sort="PRICE_DESC")
    # Above 2100 the shirt's cheapest matching variant is Blue (2500): it sorts after the mug (2200).
    above = await search(gql, sort="PRICE_ASC", filter={"price": {"min": 2100}})
    green = await search(
        gql, sort="PRICE_DESC", filter={"options": [{"name": "Colour", "values": ["Green"]}]}
    )

    assert names(cheapest) == ["Tee Shirt", "Mid Mug"]
    assert names(dearest) == ["Mid Mug", "Tee Shirt"]
    assert names(above) == ["Mid Mug", "Tee Shirt"]
    assert names(green) == ["Tee Shirt"]


async def many_priced(gql, admin_token, prices: list[int]) -> list[dict]:
    created = []
    for n, amount in enumerate(prices):
        created.append(
            await create(
                gql,
                admin_token,
                name=f"Paging Lamp {n}",
                category="Lamps" if n % 2 else "Lights",
                price={"amount": amount, "currency": "USD"},
            )
        )
    return created


@pytest.mark.parametrize("sort", ["PRICE_ASC", "PRICE_DESC", "NEWEST", "RELEVANCE"])
@pytest.mark.parametrize("first", [1, 2, 3])
async def test_every_sort_pages_without_duplicates_or_gaps(gql, admin_token, sort, first):
    # Equal prices on purpose: the id breaks the ties, on every page boundary.
    products = await many_priced(gql, admin_token, [500, 300, 500, 300, 500, 100, 900])
    filter = {"price": {"min": 100, "max": 900}, "categories": ["Lamps", "Lights"]}
    variables = {"filter": filter, "sort": sort}
    if sort == "RELEVANCE":
        variables["search"] = "lamp"

    walked = await walk_search(gql, first, **variables)
    whole = await search(gql, first=100, **variables)

    walked_ids = [node["id"] for node in walked]
    assert walked_ids == [edge["node"]["id"] for edge in whole["edges"]]
    assert sorted(walked_ids) == sorted(p["id"] for p in products)
    if sort.startswith("PRICE"):
        prices = [node["price"]["amount"] for node in walked]
        assert prices == sorted(prices, reverse=sort == "PRICE_DESC")
        ties = [uuid.UUID(node["id"]) for node in walked if node["price"]["amount"] == 500]
        assert ties == sorted(ties, reverse=sort == "PRICE_DESC")
    if sort == "NEWEST":
        assert walked_ids == [p["id"] for p in reversed(products)]


DATED = """
query Dated($search: String, $sort: ProductSort) {
  products(search: $search, sort: $sort, first: 10) { edges { node { id createdAt } } }
}
"""
# The dates asked through a named fragment only: `products` reads them all the same.
UPDATED = """
query Updated($search: String, $sort: ProductSort) {
  products(search: $search, sort: $sort, first: 10) { nodes { id ...Updated } }
}
fragment Updated on Product { updatedAt }
"""
BY_ID = "query ById($id: ID!) { product(id: $id) { createdAt updatedAt } }"


@pytest.mark.parametrize("sort", ["PRICE_ASC", "RELEVANCE", "NEWEST"])
async def test_a_listing_reads_its_products_dates_when_its_selection_shows_them(gql, admin_token, sort):
    # A listing that shows no date does not read them (search_repository `dated`); one that does gets them.
    products = await many_priced(gql, admin_token, [100, 200])
    variables = {"sort": sort, "search": "lamp" if sort == "RELEVANCE" else None}
    dated = (await gql("products", DATED, variables)).ok()["products"]["edges"]
    updated = (await gql("products", UPDATED, variables)).ok()["products"]["nodes"]
    assert {node["id"] for node in updated} >= {product["id"] for product in products}
    for product in products:
        expected = (await gql("products", BY_ID, {"id": product["id"]})).ok()["product"]
        assert [edge["node"]["createdAt"] for edge in dated if edge["node"]["id"] == product["id"]] == [
            expected["createdAt"]
        ]
        assert [node["updatedAt"] for node in updated if node["id"] == product["id"]] == [
            expected["updatedAt"]
        ]


async def test_category_argument_and_filter_categories_both_apply(gql, admin_token):
    await many_priced(gql, admin_token, [100, 200, 300])

    both = await search(gql, category="Lamps", filter={"categories": ["Lamps", "Lights"]})
    either = await search(gql, filter={"categories": ["Lights"]})

    assert names(both) == ["Paging Lamp 1"]
    assert sorted(names(either)) == ["Paging Lamp 0", "Paging Lamp 2"]


async def test_in_stock_false_finds_products_with_a_variant_out_of_stock(gql, admin_token, products_db):
    await product_with_variants(gql, admin_token, products_db, [Variant(units=3)], name="Full Jar")
    await product_with_variants(gql, admin_token, products_db, [Variant()], name="Empty Jar")

    assert names(await search(gql, filter={"inStock": False})) == ["Empty Jar"]
    assert names(await search(gql, filter={"inStock": True})) == ["Full Jar"]


async def test_admin_listing_archived_products_still_skips_archived_variants(gql, admin_token, products_db):
    kept = await product_with_variants(gql, admin_token, products_db, [Variant(units=1)], name="Old Stock")
    await set_product_active(products_db, kept["id"], False)
    await product_with_variants(
        gql, admin_token, products_db, [Variant(units=1, active=False)], name="Retired Variant"
    )

    found = await search(gql, admin_token, filter={"inStock": True}, includeArchived=True)

    assert names(found) == ["Old Stock"]


async def test_a_cursor_is_refused_by_a_listing_with_other_filters(gql, admin_token):
    await many_priced(gql, admin_token, [100, 200, 300])
    page = await search(gql, first=1, sort="PRICE_ASC", filter={"price": {"max": 300}})
    cursor = page["pageInfo"]["endCursor"]

    other_filter = await gql(
        "products",
        "query($a: String) { products(first: 1, after: $a, sort: PRICE_ASC, filter: {price: {max: 200}}) "
        "{ totalCount } }",
        {"a": cursor},
    )
    other_sort = await gql(
        "products",
        "query($a: String) { products(first: 1, after: $a, sort: PRICE_DESC, filter: {price: {max: 300}}) "
        "{ totalCount } }",
        {"a": cursor},
    )

    assert other_filter.error_codes == ["BAD_USER_INPUT"]
    assert other_sort.error_codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"filter": {"price": {"min": 500, "max": 100}}}, "filter.price"),
        ({"filter": {"price": {"min": -1}}}, "filter.price.min"),
        ({"filter": {"price": {"max": 2**53}}}, None),  # past GraphQL's Int: refused by coercion
        ({"filter": {"price": {"min": 1, "currency": "dollars"}}}, "filter.price.currency"),
        ({"filter": {"categories": [f"C{n}" for n in range(21)]}}, "filter.categories"),
        ({"filter": {"categories": ["x" * 101]}}, "filter.categories"),
        ({"filter": {"categories": ["  "]}}, "filter.categories"),
        ({"filter": {"options": [{"name": "Colour", "values": [f"v{n}" for n in range(21)]}]}}, None),
        ({"filter": {"options": [{"name": "Colour", "values": []}]}}, "filter.options.values"),
        ({"filter": {"options": [{"name": f"O{n}", "values": ["x"]} for n in range(11)]}}, "filter.options"),
        ({"filter": {"options": [{"name": " ", "values": ["x"]}]}}, "filter.options.name"),
        (
            {"filter": {"options": [{"name": "Colour", "values": [v]} for v in ("x", "y")]}},
            "filter.options.name",
        ),
        ({"sort": "RELEVANCE"}, "sort"),
    ],
)
async def test_bad_filters_are_coded_errors(gql, variables, field):
    resp = await gql("products", FACETS, variables)

    assert resp.error_codes == ["BAD_USER_INPUT"]
    if field is not None:
        assert resp.errors[0]["extensions"]["field"] == field


async def test_an_unknown_sort_is_refused_by_validation(gql):
    resp = await gql("products", FACETS, {"sort": "CHEAPEST"})

    assert resp.status_code in (200, 400)
    assert resp.error_codes == ["BAD_USER_INPUT"] or resp.error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert resp.data is None


async def test_the_router_answers_a_faceted_search_as_the_subgraph_does(
    gql, admin_token, products_db, http, myshop_router
):
    await acceptance_catalog(gql, admin_token, products_db)
    variables = {"filter": ACCEPTANCE_FILTER, "sort": "PRICE_ASC"}

    through_router = await http.post(
        f"{myshop_router.url}/graphql", json={"query": FACETS, "variables": variables}
    )
    direct = (await gql("products", FACETS, variables)).ok()

    assert through_router.status_code == 200
    assert through_router.json() == {"data": direct}
    assert direct["products"]["totalCount"] == 2


def _compiled(statement) -> tuple[str, list]:
    sql = statement.compile(dialect=postgresql.asyncpg.dialect(), compile_kwargs={"render_postcompile": True})
    values = [sql.params[name] for name in sql.positiontup]
    return str(sql), [json.dumps(v) if isinstance(v, dict) else v for v in values]


# The statements dropping every index of an index's table but that one (a constraint's with the constraint,
# CASCADE taking the foreign keys that lean on it), for a transaction that is rolled back.
_DROP_OTHER_INDEXES = """
SELECT CASE WHEN c.conname IS NULL THEN format('DROP INDEX %s', i.indexrelid::regclass)
    ELSE format('ALTER TABLE %s DROP CONSTRAINT %I CASCADE', i.indrelid::regclass, c.conname) END
FROM pg_index i
LEFT JOIN pg_constraint c
    ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')
WHERE i.indrelid = (SELECT indrelid FROM pg_index WHERE indexrelid = $1::text::regclass)
    AND i.indexrelid <> $1::text::regclass
"""


def _scans_of(node: dict, index: str) -> list[dict]:
    """The nodes of an EXPLAIN (FORMAT JSON) plan that read `index`."""
    scans = [node] if node.get("Index Name") == index else []
    for child in node.get("Plans", ()):
        scans += _scans_of(child, index)
    return scans


BLUE_IN_STOCK = ProductFilter(in_stock=True, options=(OptionMatch("Colour", ("Blue", "Navy")),))


@pytest.mark.parametrize(
    ("statement", "index"),
    [
        (
            search_repository.newest_page_statement(ProductFilter(in_stock=True), after=None, limit=21),
            "ix_product_variants_product_id_in_stock",
        ),
        (
            search_repository.price_page_statement(
                BLUE_IN_STOCK, descending=False, after=None, limit=21, with_total=True
            ),
            "ix_product_variants_option_values",
        ),
        (
            search_repository.price_page_statement(
                ProductFilter(price_min=100), descending=False, after=None, limit=21
            ),
            "ix_products_active_pricing",
        ),
        (
            facets_repository.facets_statement(BLUE_IN_STOCK, ProductSort.PRICE_ASC),
            "ix_product_variants_option_values",
        ),
    ],
)
async def test_faceted_statements_can_use_their_index(products_db, engines, statement, index):
    sql, params = _compiled(statement)
    # As in test_products_data: fresh files for the tables and their indexes, the demo catalog, vacuumed and
    # analyzed, so the plan does not depend on what earlier tests left behind (statistics, dead entries).
    async with products_db() as session, session.begin():
        await session.execute(text("TRUNCATE products CASCADE"))
        await seed(session)
        # Colours spread over the variants (one in eight blue), a third out of stock.
        await session.execute(
            text(
                "UPDATE product_variants SET option_values = jsonb_build_object('Colour', (ARRAY["
                "'Black', 'White', 'Red', 'Blue', 'Green', 'Grey', 'Navy', 'Yellow'])"
                "[1 + (hashtext(sku)::bigint & 255) % 8]), "
                "available_units = (hashtext(sku)::bigint & 255) % 3"
            )
        )
    async with engines["products"].connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        raw = (await autocommit.get_raw_connection()).driver_connection
        for table in ("products", "product_variants"):
            # asyncpg's simple query protocol: one message, so PgBouncer in transaction mode (the run's, see
            # tests/conftest.py) cannot put its parse and its execution on different server connections.
            await raw.execute(f"VACUUM ANALYZE {table}")
    # The index against its table's sequential scan alone, in a transaction rolled back. Against the table's
    # other indexes the choice turns on estimates: while VACUUM cannot mark the pages all-visible (a snapshot
    # older than the seed's still open), an index-only scan is priced with a heap fetch per row, and the join
    # read the products through ix_products_created_at_id's bitmap instead of ix_products_active_pricing.
    async with products_db() as session:
        # Through SQLAlchemy first: its asyncpg adapter opens the transaction with its first statement, and
        # the drops below must be in it.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        raw = (await (await session.connection()).get_raw_connection()).driver_connection
        for (drop,) in await raw.fetch(_DROP_OTHER_INDEXES, index):
            await raw.execute(drop)
        plan = "\n".join(row[0] for row in await raw.fetch(f"EXPLAIN {sql}", *params))
        # Decoded already: SQLAlchemy's asyncpg dialect sets the connection's json codec.
        tree = (await raw.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *params))[0]["Plan"]
        await session.rollback()

    # Answered from the index: a condition on its keys, or its columns alone. Its predicate is not enough:
    # with the other indexes gone, a partial index is the cheapest way to `active` (the GIN one read whole).
    scans = _scans_of(tree, index)
    assert any(scan["Node Type"] == "Index Only Scan" or "Index Cond" in scan for scan in scans), plan
