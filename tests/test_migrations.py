"""Every service's migrations: at head they match its models, and from an empty database they create
exactly its tables and undo to nothing (Alembic's bookkeeping table left empty). One test per registered
subgraph, so a new service is covered the day it joins the registry."""

from __future__ import annotations

import importlib
import uuid

import pytest
from sqlalchemy import MetaData, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from myshop import migrations
from subgraphs import registry


def models_of(service: str) -> MetaData:
    return importlib.import_module(f"subgraphs.{service}.models").Base.metadata


async def catalog(url: str) -> tuple[set[str], int, int]:
    """(our tables, Alembic's version rows, indexes) of a database."""
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            tables = set(
                (
                    await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                ).scalars()
            )
            versions = await conn.scalar(text("SELECT count(*) FROM alembic_version"))
            indexes = await conn.scalar(text("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'"))
            return tables, versions, indexes
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", registry.SUBGRAPHS)
async def test_the_migrations_at_head_match_the_models(service: str, databases: dict[str, str]) -> None:
    assert await migrations.model_drift(databases[service], models_of(service)) == []


@pytest.mark.parametrize("service", registry.SUBGRAPHS)
async def test_upgrade_from_empty_then_downgrade_to_base_leaves_nothing(service: str) -> None:
    settings = registry.load(service).settings_class()
    name = f"{settings.database_prefix}{service}_scratch_{uuid.uuid4().hex[:6]}"
    url = settings.database_url_on_server(name)
    await migrations.ensure_database(settings.postgres_url, name)
    try:
        await migrations.upgrade_async(service, url)
        tables, versions, _ = await catalog(url)
        assert tables == {*models_of(service).tables, "alembic_version"}
        assert versions == 1
        assert await migrations.model_drift(url, models_of(service)) == []

        await migrations.downgrade_async(service, url)

        tables, versions, indexes = await catalog(url)
        assert (tables, versions, indexes) == ({"alembic_version"}, 0, 1)  # 1: alembic_version's key
    finally:
        await migrations.drop_database(settings.postgres_url, name)
