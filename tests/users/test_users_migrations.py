"""The users migrations match the models and undo cleanly; the demo seed is idempotent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import pool, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from users_api import Accounts

from shared import migrations
from subgraphs.users.models import Base
from subgraphs.users.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, seed
from subgraphs.users.settings import UsersSettings


async def tables_of(url: str) -> set[str]:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            return set(rows.scalars())
    finally:
        await engine.dispose()


@pytest.fixture
async def scratch_database() -> AsyncIterator[str]:
    """An empty database of this test's own (the run's prefix keeps it apart from other runs)."""
    settings = UsersSettings()
    name = f"{settings.database_name}_migrations"
    await migrations.drop_database(settings.postgres_url, name)
    await migrations.ensure_database(settings.postgres_url, name)
    yield settings.database_url_on_server(name)
    await migrations.drop_database(settings.postgres_url, name)


async def test_the_migrations_match_the_models(databases: dict[str, str]) -> None:
    assert await migrations.model_drift(databases["users"], Base.metadata) == []


async def test_upgrade_from_empty_then_downgrade_to_base_leaves_no_tables(scratch_database: str) -> None:
    await migrations.upgrade_async("users", scratch_database)
    assert await tables_of(scratch_database) == {"users", "outbox", "alembic_version"}
    assert await migrations.model_drift(scratch_database, Base.metadata) == []

    await migrations.downgrade_async("users", scratch_database)

    # Alembic's own bookkeeping table stays, empty; nothing of ours does.
    assert await tables_of(scratch_database) == {"alembic_version"}
    engine = create_async_engine(scratch_database, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM alembic_version")) == 0
            indexes = await conn.scalar(text("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'"))
            assert indexes == 1  # alembic_version's primary key
    finally:
        await engine.dispose()


async def test_seed_creates_the_demo_accounts_once(accounts: Accounts, users_sessions) -> None:
    async with users_sessions.begin() as session:
        first = await seed(session)
    async with users_sessions.begin() as session:
        second = await seed(session)

    assert [line.endswith("created") for line in first] == [True, True, True]
    assert [line.endswith("exists") for line in second] == [True, True, True]
    async with users_sessions() as session:
        rows = (await session.execute(text("SELECT email, roles FROM users ORDER BY email"))).all()
    assert sorted((email, roles) for email, _, roles in DEMO_ACCOUNTS) == [(e, r) for e, r in rows]
    for email, _, roles in DEMO_ACCOUNTS:
        assert (await accounts.login(email, DEMO_PASSWORD))["user"]["roles"] == roles


async def test_the_database_refuses_a_user_without_roles_or_with_the_service_role(
    users_sessions, api
) -> None:
    for roles in ("ARRAY[]::text[]", "ARRAY['SERVICE']"):
        async with users_sessions() as session:
            with pytest.raises(IntegrityError):
                await session.execute(
                    text(
                        "INSERT INTO users (id, email, name, password_hash, roles, created_at, updated_at) "
                        f"VALUES (gen_random_uuid(), 'r@example.com', 'R', 'x', {roles}, now(), now())"
                    )
                )
