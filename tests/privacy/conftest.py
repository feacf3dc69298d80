"""Fixtures of the privacy tests: the whole stack behind a router over MyShop's supergraph; a small shop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from privacy_shop import Shop

from shared.testing import ServerThread


@pytest.fixture
async def client(myshop_router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=myshop_router.url, timeout=30) as client:
        yield client


@pytest.fixture
def shop(api: Any, client: httpx.AsyncClient, gql: Any, issuer: Any, engines: dict[str, Any]) -> Shop:
    return Shop(client, gql, issuer, engines)
