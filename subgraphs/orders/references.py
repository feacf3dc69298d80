"""Entities of other subgraphs that orders' types point at, as references only (`resolvable: false`): the
router fetches their fields from their owners."""

from __future__ import annotations

import strawberry
from strawberry.federation.schema_directives import Key


@strawberry.federation.type(keys=[Key(fields="id", resolvable=False)])
class Product:
    id: strawberry.ID


@strawberry.federation.type(keys=[Key(fields="id", resolvable=False)])
class ProductVariant:
    id: strawberry.ID
