"""What one analytics process keeps for its life: built by `app.setup`, reachable as `runtime.state`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from subgraphs.analytics.replica import ReplicaWatch
from subgraphs.analytics.settings import AnalyticsSettings


@dataclass(frozen=True, slots=True)
class AnalyticsState:
    settings: AnalyticsSettings
    # The service's own database (the primary): where reports read without a replica, or while it lags.
    primary: async_sessionmaker[AsyncSession]
    # The read replica and its lag, when MYSHOP_ANALYTICS_READ_DATABASE_URL is set (this process made its
    # engine, and disposes of it).
    replica: ReplicaWatch | None

    def reads(self) -> async_sessionmaker[AsyncSession]:
        """The reports' sessions now: the replica's unless it lags past the limit or does not answer."""
        return self.primary if self.replica is None else self.replica.sessions()
