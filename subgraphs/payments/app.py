"""The payments service: charges and refunds through a payment provider, for the order saga."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from subgraphs.payments.loaders import build_loaders
from subgraphs.payments.metrics import PaymentsMetrics
from subgraphs.payments.models import outbox
from subgraphs.payments.providers import build_provider
from subgraphs.payments.schema import schema
from subgraphs.payments.settings import PaymentsSettings
from subgraphs.payments.state import PaymentsState


async def setup(runtime: Runtime[PaymentsState]) -> PaymentsState:
    settings = runtime.settings
    if not isinstance(settings, PaymentsSettings):
        raise TypeError("the payments service runs with PaymentsSettings")
    return PaymentsState(
        settings=settings,
        metrics=PaymentsMetrics(runtime.metrics),
        provider=build_provider(settings, runtime.redis),
    )


definition = SubgraphDefinition[PaymentsState](
    name="payments",
    settings_class=PaymentsSettings,
    schema=schema,
    build_loaders=build_loaders,
    setup=setup,
    outbox=outbox,
)


def build_app(settings: PaymentsSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
