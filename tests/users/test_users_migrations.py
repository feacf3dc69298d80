"""The users database: the demo seed is idempotent and the table refuses rows the rules forbid (the
migrations themselves are checked for every service in tests/test_migrations.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from users_api import Accounts

from myshop.demo.users import DEMO_ACCOUNTS, DEMO_PASSWORD, seed


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
