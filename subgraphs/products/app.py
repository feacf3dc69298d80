"""The products service: its subgraph definition and ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from shared.privacy import forgetting_users
from subgraphs.products.activity import Activity, flush_activity
from subgraphs.products.cache import ProductCache
from subgraphs.products.events import consumer_spec
from subgraphs.products.loaders import build_loaders
from subgraphs.products.media import storage_of
from subgraphs.products.media_http import add_media_routes
from subgraphs.products.metrics import ProductsMetrics
from subgraphs.products.models import outbox
from subgraphs.products.privacy import user_deleted
from subgraphs.products.schema import schema
from subgraphs.products.settings import ProductsSettings
from subgraphs.products.state import ProductsState


async def setup(runtime: Runtime[ProductsState]) -> ProductsState:
    settings = runtime.settings
    if not isinstance(settings, ProductsSettings):
        raise TypeError("the products service runs with ProductsSettings")
    metrics = ProductsMetrics(runtime.metrics)
    cache = ProductCache(
        runtime.redis,
        settings.redis_prefix,
        ttl_seconds=settings.cache_ttl_seconds,
        timeout_seconds=settings.cache_timeout_seconds,
        metrics=metrics,
    )
    return ProductsState(
        settings=settings,
        metrics=metrics,
        activity=Activity(runtime, metrics),
        cache=cache,
        storage=storage_of(settings),
    )


definition = SubgraphDefinition[ProductsState](
    name="products",
    settings_class=ProductsSettings,
    schema=schema,
    build_loaders=build_loaders,
    outbox=outbox,
    # Its own ProductUpdated events invalidate the product cache; users' UserDeleted empties that user's
    # searches in the outbox (privacy.py).
    consumer=lambda runtime: forgetting_users(consumer_spec(runtime.state.cache), user_deleted),
    setup=setup,
    workers=[flush_activity],
    # Reads by id, listings and searches: outside PgBouncer, no BEGIN/COMMIT round trips around them.
    # `GET/HEAD /media/{id}/{rendition}`: product images (media_http.py), reached through the router.
    add_routes=add_media_routes,
    # `addProductMedia` takes a file (the GraphQL multipart request spec, sent on by the router).
    uploads=True,
)


def build_app(settings: ProductsSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
