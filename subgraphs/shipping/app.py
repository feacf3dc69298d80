"""The shipping service: its subgraph definition and ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from subgraphs.shipping.loaders import build_loaders
from subgraphs.shipping.schema import schema
from subgraphs.shipping.settings import ShippingSettings
from subgraphs.shipping.state import ShippingState


async def setup(runtime: Runtime[ShippingState]) -> ShippingState:
    settings = runtime.settings
    if not isinstance(settings, ShippingSettings):
        raise TypeError("the shipping service runs with ShippingSettings")
    return ShippingState(settings)


definition = SubgraphDefinition[ShippingState](
    name="shipping",
    settings_class=ShippingSettings,
    schema=schema,
    build_loaders=build_loaders,
    setup=setup,
)


def build_app(settings: ShippingSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
