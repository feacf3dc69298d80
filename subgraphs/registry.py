"""Which subgraphs exist, in start order, and how to load one by name."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.app import SubgraphDefinition
    from shared.settings import ServiceSettings

# users first: the others fetch its JWKS to verify tokens; shipping before orders, which calls it.
SUBGRAPHS: tuple[str, ...] = (
    "users",
    "products",
    "inventory",
    "payments",
    "shipping",
    "orders",
    "notifications",
    "analytics",
)


def load(name: str) -> SubgraphDefinition:
    if name not in SUBGRAPHS:
        raise KeyError(f"unknown subgraph {name!r}; known: {', '.join(SUBGRAPHS)}")
    return importlib.import_module(f"subgraphs.{name}.app").definition


def settings_class(name: str) -> type[ServiceSettings]:
    """`name`'s settings class (`subgraphs.<name>.settings.<Name>Settings`, the class `load(name)` names)
    without importing its app, schema and models: what a supervisor needs to know where a service listens."""
    if name not in SUBGRAPHS:
        raise KeyError(f"unknown subgraph {name!r}; known: {', '.join(SUBGRAPHS)}")
    module = importlib.import_module(f"subgraphs.{name}.settings")
    return getattr(module, f"{name.capitalize()}Settings")  # type: ignore[no-any-return]
