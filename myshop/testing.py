"""Support for tests and benchmarks that need a service's own database: a scratch one, migrated by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from myshop.migrations import history_of
from shared import testing


@asynccontextmanager
async def scratch_database(service: str, server_url: str) -> AsyncIterator[str]:
    """A database of its own for `service`, migrated to head, dropped on exit; yields its URL."""
    async with testing.scratch_database(service, server_url, history=history_of(service)) as url:
        yield url
