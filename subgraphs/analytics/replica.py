"""Where reports read: the read replica while it is close enough behind, else the primary; its replication
lag, measured on the replica, in readiness and metrics.

The policy (README, "Analytics on a read replica"): a report never fails or goes stale because the replica is
behind. While the replica's lag is at most `max_replica_lag_seconds` reports read it; past that, or while it
does not answer, they read the primary (fresh figures, its load) until it catches up. Readiness stays 200
either way, since the process answers correctly; the `read_database` check names the state (`current`,
`lagging`, `unreachable`) and the lag, and operators alert on `myshop_analytics_replica_lag_seconds` and
`myshop_analytics_reports_from_primary`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

# Received but not yet replayed WAL, and how old the last replayed commit is while some is waiting: when the
# two positions meet the replica is caught up (0 s), however long ago the primary last wrote. Both positions
# are NULL on a server that is not a standby (a plain second database): no lag. The seconds overstate a lag
# just after a long idle spell on the primary (the last replayed commit is old) and include any clock skew
# between the two hosts; the bytes do neither.
LAG = text(
    """
    SELECT pg_is_in_recovery() AS standby,
           GREATEST(COALESCE(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0), 0)
               AS lag_bytes,
           CASE WHEN pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()
                THEN GREATEST(COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0), 0)
                ELSE 0 END AS lag_seconds,
           CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused
    """
)
# A lag query must not hang readiness (2 s limit) nor the watcher.
MEASURE_TIMEOUT = 1.5


@dataclass(frozen=True, slots=True)
class Lag:
    standby: bool
    seconds: float
    bytes: int
    paused: bool


class ReplicaMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag_seconds = Gauge(
            "myshop_analytics_replica_lag_seconds",
            "Age of the last commit the read replica replayed while received WAL waits (0 when caught up).",
            registry=registry,
        )
        self.lag_bytes = Gauge(
            "myshop_analytics_replica_lag_bytes",
            "WAL the read replica received but has not replayed yet.",
            registry=registry,
        )
        self.up = Gauge(
            "myshop_analytics_replica_up",
            "1 when the read replica answered its last lag query.",
            registry=registry,
        )
        self.from_primary = Gauge(
            "myshop_analytics_reports_from_primary",
            "1 while reports read the primary because the replica lags past the limit or does not answer.",
            registry=registry,
        )


class ReplicaWatch:
    """The replica's last measured state, and which sessions reports take because of it."""

    def __init__(
        self,
        engine: AsyncEngine,
        replica: async_sessionmaker[AsyncSession],
        primary: async_sessionmaker[AsyncSession],
        *,
        max_lag_seconds: float,
        registry: CollectorRegistry,
    ) -> None:
        self.engine = engine
        self.replica = replica
        self.primary = primary
        self.max_lag_seconds = max_lag_seconds
        self.metrics = ReplicaMetrics(registry)
        self.lag: Lag | None = None
        # Until the first measurement the replica is presumed usable: a start-up must not read the primary.
        self.state = "current"
        self.error: str | None = None

    @property
    def from_primary(self) -> bool:
        return self.state != "current"

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.primary if self.from_primary else self.replica

    async def measure(self) -> Lag | None:
        """Ask the replica how far behind it is and decide where reports read; None if it does not answer."""
        try:
            async with asyncio.timeout(MEASURE_TIMEOUT), self.engine.connect() as conn:
                row = (await conn.execute(LAG)).one()
        except Exception as exc:  # any failure to answer: reports must not wait on it
            self._update(None, f"{type(exc).__name__}: {exc}"[:200])
            return None
        lag = Lag(bool(row.standby), float(row.lag_seconds), int(row.lag_bytes), bool(row.paused))
        self._update(lag, None)
        return lag

    def _update(self, lag: Lag | None, error: str | None) -> None:
        before = self.state
        self.lag, self.error = lag, error
        if lag is None:
            self.state = "unreachable"
        else:
            self.state = "lagging" if lag.seconds > self.max_lag_seconds else "current"
        if self.state != before:
            logger.warning(
                "analytics read replica %s: reports now read the %s",
                self.state,
                "primary" if self.from_primary else "replica",
                extra={"lag_seconds": lag.seconds if lag else None, "error": error},
            )
        self.metrics.up.set(0 if lag is None else 1)
        self.metrics.lag_seconds.set(lag.seconds if lag else 0)
        self.metrics.lag_bytes.set(lag.bytes if lag else 0)
        self.metrics.from_primary.set(1 if self.from_primary else 0)

    def report(self) -> dict[str, Any]:
        """What readiness says about the replica (merged into the `read_database` check's result)."""
        body: dict[str, Any] = {
            "replica": self.state,
            "reads_from": "primary" if self.from_primary else "replica",
            "max_lag_seconds": self.max_lag_seconds,
        }
        if self.lag is not None:
            body |= {
                "standby": self.lag.standby,
                "lag_seconds": round(self.lag.seconds, 3),
                "lag_bytes": self.lag.bytes,
                "replay_paused": self.lag.paused,
            }
        if self.error is not None:
            body["error"] = self.error
        return body
