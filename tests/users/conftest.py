"""Fixtures of the users tests: sessions on the users database and the `accounts` helper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from users_api import Accounts


@pytest.fixture
async def users_sessions(databases: dict[str, str]) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the users server's own database (what the tests arrange or check behind the API)."""
    engine = create_async_engine(databases["users"], poolclass=pool.NullPool)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
def accounts(gql: Any, users_sessions: async_sessionmaker[AsyncSession]) -> Accounts:
    return Accounts(gql, users_sessions)
