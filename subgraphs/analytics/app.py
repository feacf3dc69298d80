"""The analytics service: its subgraph definition (consuming every service's events) and ASGI app."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from shared.db import create_engine, create_sessionmaker
from subgraphs.analytics.events import CONSUMER
from subgraphs.analytics.loaders import build_loaders
from subgraphs.analytics.schema import schema
from subgraphs.analytics.service import READS_KEY
from subgraphs.analytics.settings import AnalyticsSettings

READ_ENGINE_KEY = "analytics.read_engine"


async def setup(runtime: Runtime) -> None:
    """Reports get an engine of their own on the read replica when one is configured."""
    settings = runtime.settings
    if not isinstance(settings, AnalyticsSettings):
        raise TypeError("the analytics service runs with AnalyticsSettings")
    if settings.read_database_url:
        engine = create_engine(
            settings.read_database_url, pool_size=settings.db_pool_size, application_name="analytics-reports"
        )
        runtime.state[READ_ENGINE_KEY] = engine
        runtime.state[READS_KEY] = create_sessionmaker(engine)


async def teardown(runtime: Runtime) -> None:
    engine = runtime.state.pop(READ_ENGINE_KEY, None)
    if engine is not None:
        await engine.dispose()


async def check_read_database(runtime: Runtime) -> None:
    """The reports' database answers (the main one when no replica is configured)."""
    engine = runtime.state.get(READ_ENGINE_KEY, runtime.engine)
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


definition = SubgraphDefinition(
    name="analytics",
    settings_class=AnalyticsSettings,
    schema=schema,
    build_loaders=build_loaders,
    setup=setup,
    teardown=teardown,
    consumer=CONSUMER,
    readiness_checks={"read_database": check_read_database},
)


def build_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
