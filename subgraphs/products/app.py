"""The products service: its subgraph definition and ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from subgraphs.products.activity import STATE_KEY, Activity, flush_activity
from subgraphs.products.cache import STATE_KEY as CACHE
from subgraphs.products.cache import ProductCache
from subgraphs.products.events import consumer_spec
from subgraphs.products.loaders import build_loaders
from subgraphs.products.models import outbox
from subgraphs.products.schema import schema
from subgraphs.products.settings import ProductsSettings


async def setup(runtime: Runtime) -> None:
    runtime.state[STATE_KEY] = Activity(runtime)
    runtime.state[CACHE] = ProductCache.for_runtime(runtime)


definition = SubgraphDefinition(
    name="products",
    settings_class=ProductsSettings,
    schema=schema,
    build_loaders=build_loaders,
    outbox=outbox,
    # Its own ProductUpdated events invalidate the product cache.
    consumer=lambda runtime: consumer_spec(runtime.state[CACHE]),
    setup=setup,
    workers=[flush_activity],
)


def build_app(settings: ProductsSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
