"""Fixtures of the products tests: tokens minted with the run's key ring, sessions on its database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from shared.auth import TokenIssuer


@pytest.fixture
def admin_token(issuer: TokenIssuer) -> str:
    return issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token


@pytest.fixture
def customer_token(issuer: TokenIssuer) -> str:
    return issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token


@pytest.fixture
async def products_db(api: Any, databases: dict[str, str]) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the run's products database (emptied before the test by `api`)."""
    engine = create_async_engine(databases["products"])
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()
