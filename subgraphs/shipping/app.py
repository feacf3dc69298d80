"""The shipping service: its subgraph definition (the outbox of shipments' events, the consumer of orders'
`OrderCancelled`) and ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from shared.peers import Peer
from subgraphs.shipping.consumer import consumer
from subgraphs.shipping.loaders import build_loaders
from subgraphs.shipping.metrics import ShippingMetrics
from subgraphs.shipping.models import outbox
from subgraphs.shipping.peers import OrdersPeer
from subgraphs.shipping.schema import schema
from subgraphs.shipping.settings import ShippingSettings
from subgraphs.shipping.state import ShippingState


async def setup(runtime: Runtime[ShippingState]) -> ShippingState:
    settings = runtime.settings
    if not isinstance(settings, ShippingSettings):
        raise TypeError("the shipping service runs with ShippingSettings")
    orders = Peer(
        "orders",
        settings.orders_url,
        tokens=runtime.service_tokens,
        timeout=settings.peer_timeout_seconds,
        tracer=runtime.tracer,
    )
    return ShippingState(
        settings=settings, metrics=ShippingMetrics(runtime.metrics), orders=OrdersPeer(orders)
    )


async def teardown(runtime: Runtime[ShippingState]) -> None:
    if runtime.state is not None:
        await runtime.state.orders.close()


definition = SubgraphDefinition[ShippingState](
    name="shipping",
    settings_class=ShippingSettings,
    schema=schema,
    build_loaders=build_loaders,
    setup=setup,
    teardown=teardown,
    outbox=outbox,
    consumer=consumer,
    # No readiness check on orders: orders calls shipping at checkout, and each waiting for the other to be
    # ready would never start. Shipment calls answer SERVICE_UNAVAILABLE while orders is away.
)


def build_app(settings: ShippingSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
