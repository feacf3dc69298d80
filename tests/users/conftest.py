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


@pytest.fixture
def users_state(api: Any) -> Any:
    """The running users server's `UsersState` (it runs in this process): for a test to tune one setting."""
    return api.servers["users"].server.config.app.state.runtime.state


@pytest.fixture
def no_refresh_grace(users_state: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second use of a refresh token is a reuse at once, as after the grace window (which lasts seconds)."""
    monkeypatch.setattr(users_state.refresh_tokens, "grace_seconds", 0.0)
