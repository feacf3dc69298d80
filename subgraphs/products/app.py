"""The products service: its subgraph definition and ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from subgraphs.products.loaders import build_loaders
from subgraphs.products.models import outbox
from subgraphs.products.schema import schema
from subgraphs.products.settings import ProductsSettings

definition = SubgraphDefinition(
    name="products",
    settings_class=ProductsSettings,
    schema=schema,
    build_loaders=build_loaders,
    outbox=outbox,
)


def build_app(settings: ProductsSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
