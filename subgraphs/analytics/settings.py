"""Settings of the analytics service (`MYSHOP_ANALYTICS_*`, plus the common `MYSHOP_*` ones)."""

from __future__ import annotations

from typing import ClassVar

from shared.settings import ServiceSettings, service_config


class AnalyticsSettings(ServiceSettings):
    model_config = service_config("analytics")
    service_name: ClassVar[str] = "analytics"

    # Reports (salesSummary, topProducts, userActivity, Product.stats) read from this database when set: a
    # read replica of analytics' own database, so heavy reports never slow the consumer's writes
    # (MYSHOP_ANALYTICS_READ_DATABASE_URL). Unset: they read from the main database.
    read_database_url: str | None = None
