"""What one analytics process keeps for its life: built by `app.setup`, reachable as `runtime.state`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from subgraphs.analytics.settings import AnalyticsSettings


@dataclass(frozen=True, slots=True)
class AnalyticsState:
    settings: AnalyticsSettings
    # Reports read here: the read replica's engine when one is configured, else the service's own database.
    read_engine: AsyncEngine
    reads: async_sessionmaker[AsyncSession]
    # Whether `read_engine` is the replica's (this process made it, and disposes of it).
    replica: bool
