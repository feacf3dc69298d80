"""`_entities` resolved together (shared/graphql.py `Schema.entities_resolver`): a type with
`resolve_references` answers all of its references in one call, the others one by one as Strawberry does,
each entity in its place, and a reference that fails is that entity's error alone."""

from __future__ import annotations

from typing import Any

import strawberry

from shared.graphql import RequestExecutor, Schema

calls: list[tuple[str, int]] = []


@strawberry.federation.type(keys=["id"])
class Batched:
    id: strawberry.ID

    @classmethod
    async def resolve_references(
        cls, info: strawberry.Info, representations: list[dict[str, Any]]
    ) -> list[Any]:
        calls.append(("Batched", len(representations)))
        return [
            ValueError("no such thing") if r["id"] == "missing" else cls(id=strawberry.ID(r["id"].upper()))
            for r in representations
        ]


@strawberry.federation.type(keys=["id"])
class Single:
    id: strawberry.ID

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Single:
        calls.append(("Single", 1))
        if id == "broken":
            raise RuntimeError("broken reference")
        return cls(id=strawberry.ID(f"single {id}"))


@strawberry.type
class Query:
    @strawberry.field
    def nothing(self) -> int:
        return 0


# Our schema class without the request extensions (they want a service's context).
schema = Schema(query=Query, types=[Batched, Single], execution_context_class=RequestExecutor)
QUERY = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Batched { id } ... on Single { id } } }"""


async def test_references_of_a_batching_type_are_resolved_in_one_call_each_in_its_place() -> None:
    calls.clear()
    representations = [
        {"__typename": "Batched", "id": "a"},
        {"__typename": "Single", "id": "x"},
        {"__typename": "Batched", "id": "b"},
        {"__typename": "Single", "id": "y"},
        {"__typename": "Batched", "id": "c"},
    ]
    result = await schema.execute(QUERY, variable_values={"r": representations})
    assert result.errors is None
    assert result.data == {
        "_entities": [{"id": "A"}, {"id": "single x"}, {"id": "B"}, {"id": "single y"}, {"id": "C"}]
    }
    assert sorted(calls) == [("Batched", 3), ("Single", 1), ("Single", 1)]


async def test_a_reference_that_fails_is_its_entitys_error_alone() -> None:
    representations = [
        {"__typename": "Batched", "id": "missing"},
        {"__typename": "Single", "id": "broken"},
        {"__typename": "Batched", "id": "d"},
    ]
    result = await schema.execute(QUERY, variable_values={"r": representations})
    assert result.data == {"_entities": [None, None, {"id": "D"}]}
    assert sorted((error.path, error.message) for error in result.errors or []) == [
        (["_entities", 0], "no such thing"),
        (["_entities", 1], "broken reference"),
    ]
