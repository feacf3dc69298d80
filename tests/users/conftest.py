"""Fixtures of the users tests: sessions on the users database and the `accounts` helper."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from users_api import Accounts


@pytest.fixture
def users_sessions(engines: dict[str, AsyncEngine]) -> async_sessionmaker[AsyncSession]:
    """Sessions on the users server's own database (what the tests arrange or check behind the API)."""
    return async_sessionmaker(engines["users"], expire_on_commit=False)


@pytest.fixture
def accounts(gql: Any, users_sessions: async_sessionmaker[AsyncSession]) -> Accounts:
    return Accounts(gql, users_sessions)
