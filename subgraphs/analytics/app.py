"""The analytics service: its subgraph definition (consuming every service's events) and ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from shared.db import create_engine, create_sessionmaker
from shared.privacy import forgetting_users
from shared.subscriptions import ConsumerSpec
from subgraphs.analytics.events import CONSUMER
from subgraphs.analytics.loaders import build_loaders
from subgraphs.analytics.privacy import user_deleted
from subgraphs.analytics.replica import ReplicaWatch, check_read_database, watch_replica
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
        max_overflow=settings.db_overflow,
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
