"""Settings of the analytics service (`MYSHOP_ANALYTICS_*`, plus the common `MYSHOP_*` ones)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, service_config


class AnalyticsSettings(ServiceSettings):
    model_config = service_config("analytics")
    service_name: ClassVar[str] = "analytics"

    # Reports (salesSummary, topProducts, userActivity, Product.stats) read from this database when set: a
    # read replica of analytics' own database, so heavy reports never slow the consumer's writes
    # (MYSHOP_ANALYTICS_READ_DATABASE_URL). Unset: they read from the main database.
    read_database_url: str | None = None
    # Past this replication lag (seconds, measured on the replica) reports read the primary until the replica
    # catches up: figures stay fresh, and readiness and metrics say so (subgraphs/analytics/replica.py).
    max_replica_lag_seconds: float = Field(30.0, gt=0)
    # How often the replica's lag is measured between readiness probes (each probe measures it too).
    replica_check_seconds: float = Field(1.0, gt=0)

    @property
    def db_extra_connections(self) -> int:
        """The reports' engine counts against the main server's budget only when the read database is on it (a
        replica on a server of its own has a budget of its own)."""
        if self.read_database_url and self.on_same_server(self.read_database_url):
            return self.db_pool_size + self.db_max_overflow
        return 0
