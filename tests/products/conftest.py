"""Fixtures of the products tests: tokens minted with the run's key ring, sessions on its database."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth import TokenIssuer


@pytest.fixture
def admin_token(issuer: TokenIssuer) -> str:
    return issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token


@pytest.fixture
def customer_token(issuer: TokenIssuer) -> str:
    return issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token


@pytest.fixture
def products_db(api: Any, engines: dict[str, AsyncEngine]) -> async_sessionmaker[AsyncSession]:
    """Sessions on the run's products database (emptied before the test by `api`)."""
    return async_sessionmaker(engines["products"], expire_on_commit=False)
