"""The supergraph: its subgraphs, which subgraph resolves what, and the API schema clients see."""

from router.supergraph.api_schema import build_api_schema
from router.supergraph.loader import SupergraphError, load_supergraph
from router.supergraph.model import (
    AccessRule,
    FieldInfo,
    JoinField,
    JoinType,
    ListSize,
    Subgraph,
    Supergraph,
    TypeInfo,
)

__all__ = [
    "AccessRule",
    "FieldInfo",
    "JoinField",
    "JoinType",
    "ListSize",
    "Subgraph",
    "Supergraph",
    "SupergraphError",
    "TypeInfo",
    "build_api_schema",
    "load_supergraph",
]
