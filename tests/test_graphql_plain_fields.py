"""The executor's path for plain scalar fields (shared/graphql.py `RequestExecutor.execute_field`): read
directly, without resolve info, and answered exactly as graphql-core's own path answers, errors included."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission

from shared.graphql import RequestExecutor


class Never(BasePermission):
    message = "never"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Item:
    name: str
    note: str | None
    count: int
    colour: Colour
    secret: str = strawberry.field(permission_classes=[Never])

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name=f"item {n}", note=None, count=n, colour=Colour.RED, secret="s") for n in range(3)]

    @strawberry.field
    def broken(self) -> Item:
        return Item(name=None, note=None, count="many", colour=Colour.RED, secret="s")  # type: ignore[arg-type]


class CountingExecutor(RequestExecutor):
    infos = 0

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
        CountingExecutor.infos += 1
        return super().build_resolve_info(*args, **kwargs)


class ResolvingExtension(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: strawberry.Info, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


def schema_of(*extensions: Any) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, execution_context_class=CountingExecutor, extensions=list(extensions)
    )


async def run(schema: strawberry.Schema, query: str) -> tuple[Any, int]:
    CountingExecutor.infos = 0
    result = await schema.execute(query)
    return result, CountingExecutor.infos


async def test_plain_scalar_fields_are_answered_without_resolve_info() -> None:
    result, infos = await run(schema_of(), "{ items { name note count colour shout } }")
    assert result.errors is None
    assert result.data == {
        "items": [
            {"name": f"item {n}", "note": None, "count": n, "colour": "RED", "shout": f"ITEM {n}"}
            for n in range(3)
        ]
    }
    # `items` and the three `shout`s have resolvers; the twelve plain fields need no resolve info.
    assert infos == 4


async def test_a_schema_extension_resolving_fields_still_sees_every_field() -> None:
    result, infos = await run(schema_of(ResolvingExtension), "{ items { name note count colour } }")
    assert result.errors is None
    assert infos == 1 + 3 * 4


async def test_a_field_with_a_permission_is_still_checked() -> None:
    result, _ = await run(schema_of(), "{ items { name secret } }")
    assert result.data is None
    assert [error.message for error in result.errors or []] == ["never"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ broken { name } }", "Cannot return null for non-nullable field Item.name."),
        ("{ broken { count } }", "Int cannot represent non-integer value: 'many'"),
    ],
)
async def test_plain_fields_that_fail_fail_as_graphql_core_says(query: str, message: str) -> None:
    fast, _ = await run(schema_of(), query)
    slow, _ = await run(schema_of(ResolvingExtension), query)
    assert [error.message for error in fast.errors or []] == [message]
    assert [(e.message, e.path) for e in fast.errors or []] == [
        (e.message, e.path) for e in slow.errors or []
    ]
    assert fast.data == slow.data
