"""`shared.selections.selects`: whether the query asks for a nested field below the one being resolved,
through fragments, named or inline."""

from __future__ import annotations

import pytest
import strawberry
from graphql import execute, parse

from shared.selections import selects


@strawberry.type
class Line:
    sku: str


@strawberry.type
class Order:
    id: str
    lines: list[Line]


@strawberry.type
class Page:
    total: int
    orders: list[Order]


asked: dict[str, bool] = {}
Expected = dict[str, bool] | None


@strawberry.type
class Query:
    @strawberry.field
    def page(self, info: strawberry.Info) -> Page:
        asked["total"] = selects(info, "total")
        asked["lines"] = selects(info, "orders", "lines")
        asked["sku"] = selects(info, "orders", "lines", "sku")
        asked["nothing"] = selects(info, "orders", "missing")
        return Page(total=1, orders=[Order(id="o", lines=[Line(sku="s")])])


schema = strawberry.Schema(query=Query)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ page { total } }", {"total": True, "lines": False, "sku": False}),
        ("{ page { orders { id } } }", {"total": False, "lines": False, "sku": False}),
        ("{ page { orders { lines { sku } } } }", {"total": False, "lines": True, "sku": True}),
        ("{ page { ... on Page { total } } }", {"total": True, "lines": False, "sku": False}),
        (
            "{ page { ...P } } fragment P on Page { orders { ... on Order { lines { ...L } } } }"
            " fragment L on Line { sku }",
            {"total": False, "lines": True, "sku": True},
        ),
        ("{ a: page { total } b: page { orders { lines { sku } } } }", None),
    ],
)
async def test_selects_sees_nested_fields_through_fragments(
    query: str, expected: dict[str, bool] | None
) -> None:
    asked.clear()
    result = await schema.execute(query)
    assert result.errors is None
    if expected is None:  # two aliases: the last resolved one's selection
        assert asked["sku"] and not asked["total"]
    else:
        assert {key: asked[key] for key in expected} == expected
    assert asked["nothing"] is False


async def test_what_a_field_asks_follows_the_nodes_its_variables_merge_into_it() -> None:
    # One parsed operation (its nodes, as the parse cache hands them): whether the second `page` merges into
    # the first depends on `$more`, so what was asked is not kept for the first node alone.
    query = (
        "query Q($more: Boolean!) { page { total } page @include(if: $more) { orders { lines { sku } } } }"
    )
    document = parse(query)
    for more in (False, True, False):
        asked.clear()
        result = execute(schema._schema, document, variable_values={"more": more})
        assert result.errors is None
        assert asked["sku"] is more
