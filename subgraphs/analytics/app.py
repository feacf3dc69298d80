"""The analytics service: its subgraph definition (consuming every service's events) and ASGI app."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from shared.db import create_engine, create_sessionmaker
from shared.privacy import forgetting_users
from shared.subscriptions import ConsumerSpec
from subgraphs.analytics.events import CONSUMER
from subgraphs.analytics.loaders import build_loaders
from subgraphs.analytics.privacy import user_deleted
from subgraphs.analytics.replica import ReplicaWatch
from subgraphs.analytics.schema import schema
from subgraphs.analytics.settings import AnalyticsSettings
from subgraphs.analytics.state import AnalyticsState


async def setup(runtime: Runtime[AnalyticsState]) -> AnalyticsState:
    """Reports get an engine of their own on the read replica when one is configured, watched for lag."""
    settings = runtime.settings
    if not isinstance(settings, AnalyticsSettings):
        raise TypeError("the analytics service runs with AnalyticsSettings")
    if not settings.read_database_url:
        return AnalyticsState(settings, primary=runtime.sessionmaker, replica=None)
    engine = create_engine(
        settings.read_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        application_name="analytics-reports",
        pgbouncer=settings.db_pgbouncer,
    )
    watch = ReplicaWatch(
        engine,
        create_sessionmaker(engine),
        runtime.sessionmaker,
        max_lag_seconds=settings.max_replica_lag_seconds,
        registry=runtime.metrics.registry,
    )
    return AnalyticsState(settings, primary=runtime.sessionmaker, replica=watch)


async def teardown(runtime: Runtime[AnalyticsState]) -> None:
    if runtime.state is not None and runtime.state.replica is not None:
        await runtime.state.replica.engine.dispose()


def consumer(runtime: Runtime[AnalyticsState]) -> ConsumerSpec:
    """Every service's events, and users' `UserDeleted` (privacy.py: its dead letters forget the user)."""
    return forgetting_users(CONSUMER, user_deleted(runtime, CONSUMER))


async def watch_replica(runtime: Runtime[AnalyticsState]) -> None:
    """Measure the lag every `replica_check_seconds` (reports follow it between readiness probes)."""
    watch = runtime.state.replica
    if watch is None:
        return
    while True:
        await watch.measure()
        await asyncio.sleep(runtime.state.settings.replica_check_seconds)


async def check_read_database(runtime: Runtime[AnalyticsState]) -> dict[str, Any]:
    """The reports' database: without a replica the main one answers; with one, its lag and where reports read
    (never a failure: a lagging or silent replica only moves reports to the primary)."""
    watch = runtime.state.replica
    if watch is None:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"replica": "none", "reads_from": "primary"}
    await watch.measure()
    return watch.report()


definition = SubgraphDefinition[AnalyticsState](
    name="analytics",
    settings_class=AnalyticsSettings,
    schema=schema,
    build_loaders=build_loaders,
    setup=setup,
    teardown=teardown,
    consumer=consumer,
    workers=[watch_replica],
    readiness_checks={"read_database": check_read_database},
)


def build_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
