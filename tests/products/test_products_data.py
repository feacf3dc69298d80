"""The products database: migrations, the batching loader, seeding, and search inside one transaction."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from myshop import migrations
from myshop.demo.products import seed
from subgraphs.products import search_repository
from subgraphs.products.cache import ProductRecord
from subgraphs.products.loaders import ProductLoaders, build_loaders
from subgraphs.products.models import Base
from subgraphs.products.search_repository import ProductFilter
from subgraphs.products.service import ProductService
from subgraphs.products.settings import ProductsSettings


async def test_migrations_upgrade_an_empty_database_and_downgrade_to_nothing():
    settings = ProductsSettings()
    name = f"{settings.database_prefix}products_scratch_{uuid.uuid4().hex[:6]}"
    url = settings.database_url_on_server(name)
    await migrations.ensure_database(settings.postgres_url, name)
    engine = create_async_engine(url)

    async def tables() -> set[str]:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            return set(rows.scalars())

    async def indexes() -> set[str]:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'products'"))
            return set(rows.scalars())

    async def random_page_cost() -> str:
        # A new connection each time (per-database settings apply when a session starts).
        conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
        try:
            return await conn.fetchval("SHOW random_page_cost")
        finally:
            await conn.close()

    try:
        await migrations.upgrade_async("products", url)
        assert await tables() == {
            "alembic_version",
            "products",
            "product_options",
            "product_variants",
            "product_media",
            "outbox",
            "processed_events",
        }
        assert {
            "ix_products_search_vector",
            "ix_products_created_at_id",
            "ix_products_category_created_at_id",
            "uq_products_sku",
        } <= await indexes()
        assert await migrations.model_drift(url, Base.metadata) == []
        assert await random_page_cost() == "1.1"

        await migrations.downgrade_async("products", url)
        assert await tables() == {"alembic_version"}
        assert await random_page_cost() == "4"
    finally:
        await engine.dispose()
        await migrations.drop_database(settings.postgres_url, name)


def loaders_on(session: AsyncSession) -> ProductLoaders:
    """The loaders of a request on `session`, outside a running service (no cache)."""
    return ProductLoaders(SimpleNamespace(session=session, runtime=SimpleNamespace(state=None)))


async def test_loader_reads_many_products_in_one_query(products_db):
    async with products_db() as session, session.begin():
        await seed(session, 12)
        ids = (await session.execute(text("SELECT id::text FROM products ORDER BY sku"))).scalars().all()
        statements: list[str] = []
        engine = session.bind.sync_engine if hasattr(session.bind, "sync_engine") else session.bind

        def count(conn, cursor, statement, parameters, context, executemany) -> None:
            statements.append(statement)

        event.listen(engine, "after_cursor_execute", count)
        try:
            loaders = loaders_on(session)
            wanted = [*ids, str(uuid.uuid4()), "not-a-uuid", ids[0]]
            loaded = await asyncio.gather(*(loaders.product.load(key) for key in wanted))
        finally:
            event.remove(engine, "after_cursor_execute", count)

    assert len(statements) == 1
    assert [str(p.id) if p else None for p in loaded] == [*ids, None, None, ids[0]]


async def test_loader_makes_no_query_for_ids_that_cannot_exist(products_db):
    async with products_db() as session:
        statements: list[str] = []
        engine = session.bind.sync_engine

        def count(conn, cursor, statement, parameters, context, executemany) -> None:
            statements.append(statement)

        event.listen(engine, "after_cursor_execute", count)
        try:
            loaded = await loaders_on(session).product.load_many(["nope", "42"])
        finally:
            event.remove(engine, "after_cursor_execute", count)

    assert loaded == [None, None]
    assert statements == []


async def test_seed_is_idempotent(products_db):
    async with products_db() as session, session.begin():
        first = await seed(session, 50)
    async with products_db() as session, session.begin():
        again = await seed(session, 80)
        total = await session.scalar(text("SELECT count(*) FROM products"))

    assert first == ["products: 50 demo products inserted, 0 already present"]
    assert again == ["products: 30 demo products inserted, 50 already present"]
    assert total == 80


class SessionContext:
    """The part of a request's context `ProductService` uses without a caller: the session and loaders."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.loaders = build_loaders(self)
        self.runtime = SimpleNamespace(state=None)  # no service running: nothing counts reads


async def test_search_sees_a_renamed_product_inside_the_same_transaction(products_db):
    async with products_db() as session:
        products = ProductService(SessionContext(session))
        product = await products.create_product(
            sku="TX-1",
            name="Plain Kettle",
            description="Boils water.",
            price_amount=2500,
            price_currency="USD",
            category="Home & Kitchen",
        )
        product_id = product.id
        await products.update_product(product_id, {"name": "Quokka Kettle"})

        page = await products.list_products(
            search="quokka", category=None, include_archived=False, first=10, after=None, with_total=True
        )
        found = [item.product.id for item in page.items]
        await session.rollback()

    assert found == [product_id]
    assert page.total_count == 1


async def test_a_listing_reads_rows_not_orm_entities(products_db):
    # Given products
    async with products_db() as session:
        products = ProductService(SessionContext(session))
        for n in range(3):
            await products.create_product(
                sku=f"ROW-{n}",
                name=f"Row Kettle {n}",
                description="Boils water.",
                price_amount=2500 + n,
                price_currency="USD",
                category="Home & Kitchen",
            )
        await session.flush()
        session.expunge_all()

        # When a search and a listing read pages of them
        pages = [
            await products.list_products(
                search=search, category=None, include_archived=False, first=10, after=None, with_total=True
            )
            for search in ("kettle", None)
        ]
        held = len(session.identity_map)
        await session.rollback()

    # Then their products are plain records: nothing entered the session's identity map
    assert all(isinstance(item.product, ProductRecord) for page in pages for item in page.items)
    assert {item.product.sku for item in pages[0].items} >= {"ROW-0", "ROW-1", "ROW-2"}
    assert held == 0


@pytest.mark.parametrize(
    ("statement", "index"),
    [
        (
            search_repository.search_page_statement(ProductFilter(search="coffee"), after=None, limit=21),
            "search_vector",
        ),
        (search_repository.count_statement(ProductFilter(search="coffee")), "search_vector"),
        (search_repository.newest_page_statement(ProductFilter(), after=None, limit=21), "created_at_id"),
        (
            search_repository.newest_page_statement(ProductFilter(category="Toys"), after=None, limit=21),
            "category_created_at_id",
        ),
    ],
)
async def test_listing_and_search_queries_can_use_their_index(products_db, statement, index):
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    # The same table every time: new files for it and its indexes, the demo catalog, analyzed. The per-test
    # reset only deletes rows, so the planner would otherwise plan with what earlier tests left behind:
    # their statistics (40 products named "coffee" made the search index look useless) and their indexes'
    # dead entries (a bloated search index lost to a walk of a small B-tree).
    async with products_db() as session, session.begin():
        await session.execute(text("TRUNCATE products CASCADE"))
        await seed(session)
        await session.execute(text("ANALYZE products"))
    async with products_db() as session, session.begin():
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join((await session.execute(text(f"EXPLAIN {sql}"))).scalars())

    assert f"ix_products_{index} " in plan


async def test_migration_0008_announces_products_archived_before_inventory_kept_the_catalogs_flags():
    """A database with an active and an archived product from before variants: upgraded to head, the outbox
    holds one `ProductUpdated` (archived, with the variant sharing its id) for the archived one only."""
    settings = ProductsSettings()
    name = f"{settings.database_prefix}products_archived_{uuid.uuid4().hex[:6]}"
    url = settings.database_url_on_server(name)
    await migrations.ensure_database(settings.postgres_url, name)
    engine = create_async_engine(url)
    live, archived = uuid.uuid4(), uuid.uuid4()
    try:
        await migrations.upgrade_async("products", url, "0004_tax_class_weight")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO products (id, sku, name, price_amount, price_currency, category, active) "
                    "VALUES (:live, 'LIVE-1', 'Live', 100, 'USD', 'Home', true), "
                    "(:archived, 'GONE-1', 'Gone', 250, 'EUR', 'Home', false)"
                ),
                {"live": live, "archived": archived},
            )
        await migrations.upgrade_async("products", url)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT event_type, aggregate_id, payload FROM outbox"))).all()
        assert [(kind, aggregate) for kind, aggregate, _ in rows] == [("ProductUpdated", str(archived))]
        payload = rows[0][2]
        assert payload["active"] is False and payload["change"] == "archived"
        assert payload["variantIds"] == [str(archived)]
        assert payload["price"] == {"amount": 250, "currency": "EUR"}
    finally:
        await engine.dispose()
        await migrations.drop_database(settings.postgres_url, name)
