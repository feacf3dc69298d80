"""Fixtures of the analytics tests: analytics servers of their own (scratch database, own Redis prefix), so a
test's figures are exactly the events it fed; the stack's analytics serves the access tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from analytics_helpers import AnalyticsServer, Launcher, run_issuer
from redis.asyncio import Redis


@pytest.fixture
async def launcher(api: Any, redis: Redis, http: httpx.AsyncClient) -> AsyncIterator[Launcher]:
    admin = run_issuer(api).issue(str(uuid.uuid4()), ["ADMIN"]).token
    async with AsyncExitStack() as exits:
        yield Launcher(exits, admin, redis, http)


@pytest.fixture
async def analytics(launcher: Launcher) -> AnalyticsServer:
    return await launcher.start()
