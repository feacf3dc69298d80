"""A null where the schema promises none comes with an error saying where (router/execution/null_errors.py):
a subgraph answer that left a field out, or gave null for a non-null one, without an error of its own, no
longer reaches the client as `{"data": null}` and nothing else. An error that already says it (the subgraph's,
at or around that path, or a fetch that failed whole) is not doubled."""

from __future__ import annotations

from typing import Any

from test_execution_shaping import gateway_of

from router.execution.incremental import IncrementalStream
from router.pipeline.request import Door, GraphQLRequest
from router.upstream.transport import SubgraphFetchError

ORDERS = """
type Query { orders: [Order!]! order(id: ID!): Order }
type Order @key(fields: "id") { id: ID! status: String! }
"""
BUYERS = """
type Order @key(fields: "id") { id: ID! buyer: String! }
"""


def null_error(field: str, path: list[Any]) -> dict[str, Any]:
    return {
        "message": f"Cannot return null for non-nullable field {field}.",
        "path": path,
        "extensions": {"code": "RESPONSE_VALIDATION_FAILED"},
    }


async def test_a_root_field_left_out_of_the_answer_is_an_error_not_a_silent_null() -> None:
    gateway, _ = gateway_of({"ORDERS": lambda body: {"data": {}}}, ("orders", ORDERS))
    result = await gateway.execute("{ orders { id } }")
    assert result == {"data": None, "errors": [null_error("Query.orders", ["orders"])]}


async def test_a_null_in_a_non_null_field_nulls_its_nullable_parent_and_says_where() -> None:
    answer = {"data": {"order": {"id": "o1", "status": None}}}
    gateway, _ = gateway_of({"ORDERS": lambda body: answer}, ("orders", ORDERS))
    result = await gateway.execute('{ order(id: "o1") { id status } }')
    assert result == {"data": {"order": None}, "errors": [null_error("Order.status", ["order", "status"])]}
    # An answer with every promised value has no such error.
    answer["data"]["order"]["status"] = "PAID"
    assert await gateway.execute('{ order(id: "o1") { id status } }') == {
        "data": {"order": {"id": "o1", "status": "PAID"}}
    }


async def test_an_entity_answer_missing_a_field_is_said_at_the_entitys_path() -> None:
    answers = {
        "ORDERS": lambda body: {"data": {"orders": [{"__typename": "Order", "id": "o1"}]}},
        "BUYERS": lambda body: {"data": {"_entities": [{"__typename": "Order"}]}},
    }
    gateway, canned = gateway_of(answers, ("orders", ORDERS), ("buyers", BUYERS))
    result = await gateway.execute("{ orders { id buyer } }")
    assert [graph for graph, _ in canned.requests] == ["ORDERS", "BUYERS"]
    assert result == {"data": None, "errors": [null_error("Order.buyer", ["orders", 0, "buyer"])]}


async def test_the_subgraphs_own_error_for_the_null_is_not_doubled() -> None:
    answer = {
        "data": {"order": {"id": "o1", "status": None}},
        "errors": [{"message": "the status is being recomputed", "path": ["order", "status"]}],
    }
    gateway, _ = gateway_of({"ORDERS": lambda body: answer}, ("orders", ORDERS))
    result = await gateway.execute('{ order(id: "o1") { id status } }')
    assert result["data"] == {"order": None}
    assert [error["message"] for error in result["errors"]] == ["the status is being recomputed"]


async def test_a_fetch_that_failed_whole_already_says_why_its_fields_are_null() -> None:
    def down(body: dict[str, Any]) -> dict[str, Any]:
        raise SubgraphFetchError("connection refused")

    gateway, _ = gateway_of({"ORDERS": down}, ("orders", ORDERS))
    result = await gateway.execute("{ orders { id } }")
    assert result["data"] is None
    assert len(result["errors"]) == 1
    assert "connection refused" in result["errors"][0]["message"]


async def test_a_thousand_broken_items_are_fifty_errors_not_a_thousand() -> None:
    broken = [{"__typename": "Order", "id": f"o{n}", "status": None} for n in range(1000)]
    gateway, _ = gateway_of({"ORDERS": lambda body: {"data": {"orders": broken}}}, ("orders", ORDERS))
    result = await gateway.execute("{ orders { id status } }")
    assert result["data"] is None
    assert len(result["errors"]) == 50
    assert result["errors"][0] == null_error("Order.status", ["orders", 0, "status"])
    assert result["errors"][-1]["path"] == ["orders", 49, "status"]


async def test_a_deferred_fragments_null_is_said_in_its_own_part_at_the_full_path() -> None:
    answers = {
        "ORDERS": lambda body: {"data": {"orders": [{"__typename": "Order", "id": "o1"}]}},
        "BUYERS": lambda body: {"data": {"_entities": [{"__typename": "Order"}]}},
    }
    gateway, _ = gateway_of(answers, ("orders", ORDERS), ("buyers", BUYERS))
    stream = await gateway.run(GraphQLRequest("{ orders { id ... @defer { buyer } } }", door=Door.SSE))
    assert isinstance(stream, IncrementalStream)
    try:
        parts = [part async for part in stream]
    finally:
        await stream.aclose()
    assert parts[0] == {"data": {"orders": [{"id": "o1"}]}, "hasNext": True}
    (item,) = parts[1]["incremental"]
    assert item["data"] is None
    assert item["errors"] == [null_error("Order.buyer", ["orders", 0, "buyer"])]
