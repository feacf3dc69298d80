"""The users database: the demo seed is idempotent and the table refuses rows the rules forbid (the
migrations themselves are checked for every service in tests/test_migrations.py)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import pool, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from users_api import Accounts

from myshop import migrations
from myshop.demo.users import DEMO_ACCOUNTS, DEMO_PASSWORD, seed
from subgraphs.users.settings import UsersSettings


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


async def test_accounts_older_than_verification_count_as_verified_at_their_creation() -> None:
    settings = UsersSettings()
    name = f"{settings.database_prefix}users_grandfather_{uuid.uuid4().hex[:6]}"
    url = settings.database_url_on_server(name)
    await migrations.ensure_database(settings.postgres_url, name)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        await migrations.upgrade_async("users", url, "0003_addresses")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (id, email, name, password_hash, roles, created_at, updated_at) "
                    "VALUES (gen_random_uuid(), 'old@example.com', 'Old', 'x', ARRAY['CUSTOMER'], "
                    "'2025-01-02T03:04:05Z', now())"
                )
            )

        await migrations.upgrade_async("users", url, "0004_account_tokens")

        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT created_at, email_verified_at FROM users"))).one()
        assert row.email_verified_at == row.created_at
    finally:
        await engine.dispose()
        await migrations.drop_database(settings.postgres_url, name)
