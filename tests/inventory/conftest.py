"""Fixtures of the inventory tests: tokens by role, sessions on the inventory database, the API helper."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from inventory_api import Inventory
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth import TokenIssuer


@pytest.fixture
def admin_token(issuer: TokenIssuer) -> str:
    return issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token


@pytest.fixture
def customer_token(issuer: TokenIssuer) -> str:
    return issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token


@pytest.fixture
def service_token(issuer: TokenIssuer) -> str:
    return issuer.issue_service_token("orders").token


@pytest.fixture
def inventory_db(api: Any, engines: dict[str, AsyncEngine]) -> async_sessionmaker[AsyncSession]:
    """Sessions on the run's inventory database (emptied before the test by `api`)."""
    return async_sessionmaker(engines["inventory"], expire_on_commit=False)


@pytest.fixture
def inventory(
    gql: Any, admin_token: str, service_token: str, inventory_db: async_sessionmaker[AsyncSession]
) -> Inventory:
    return Inventory(gql, admin_token=admin_token, service_token=service_token, sessions=inventory_db)
