"""The payments service: charges and refunds through a payment provider, for the order saga."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from subgraphs.payments.loaders import build_loaders
from subgraphs.payments.metrics import PaymentMetrics
from subgraphs.payments.models import outbox
from subgraphs.payments.providers import build_provider
from subgraphs.payments.schema import schema
from subgraphs.payments.service import STATE_KEY, PaymentsKit
from subgraphs.payments.settings import PaymentsSettings


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    if not isinstance(settings, PaymentsSettings):
        raise TypeError("the payments service runs with PaymentsSettings")
    runtime.state[STATE_KEY] = PaymentsKit(
        settings=settings,
        provider=build_provider(settings, runtime.redis),
        metrics=PaymentMetrics(runtime.metrics),
    )


definition = SubgraphDefinition(
    name="payments",
    settings_class=PaymentsSettings,
    schema=schema,
    build_loaders=build_loaders,
    setup=setup,
    outbox=outbox,
)


def build_app(settings: PaymentsSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
