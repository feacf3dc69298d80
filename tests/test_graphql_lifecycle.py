"""A subgraph's queries and mutations run `RequestLifecycle.run` (shared/graphql_lifecycle.py), not
Strawberry's extension runner: every answer, error and refusal is the one Strawberry's own `execute` gives
with the same extension, as the HTTP view sends it, and the request's session goes back to the pool alike.
One difference, on purpose: a document of several operations with none named is refused, as the GraphQL
spec says; Strawberry ran the first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import strawberry
from in_process import request_context
from sqlalchemy import text
from strawberry.types.graphql import OperationType

from shared.app import SubgraphDefinition, build_runtime, close_runtime
from shared.context import Runtime
from shared.errors import BadUserInput
from shared.graphql import build_schema
from shared.graphql_lifecycle import shape_errors
from shared.settings import ServiceSettings


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str) -> str:
        return f"hello {name}"

    @strawberry.field
    def refused(self) -> int:
        raise BadUserInput("no such thing", field="refused")

    @strawberry.field
    def broken(self) -> int:
        raise RuntimeError("a bug: logged, and masked as INTERNAL")

    @strawberry.field
    async def one(self, info: strawberry.Info) -> int:
        return int(await info.context.session.scalar(text("SELECT 1")))


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def in_transaction(self, info: strawberry.Info) -> bool:
        await info.context.session.execute(text("SELECT 1"))
        return bool(info.context.session.in_transaction())


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncIterator[int]:
        yield 1


schema = build_schema(query=Query, mutation=Mutation, subscription=Subscription)


@pytest.fixture
async def runtime(api: Any, databases: dict[str, str]) -> AsyncIterator[Runtime[Any]]:
    definition = SubgraphDefinition(
        name="lifecycle", settings_class=ServiceSettings, schema=schema, build_loaders=lambda context: None
    )
    settings = api.settings["products"].model_copy(update={"database_url": databases["products"]})
    service = await build_runtime(definition, settings)
    yield service
    await close_runtime(service)


async def _answer(runtime: Runtime[Any], execute: Any, query: str, **kwargs: Any) -> Any:
    """What `execute` answers (data and formatted errors), or the type of what it raised."""
    try:
        result = await execute(schema, query, context_value=request_context(runtime), **kwargs)
    except Exception as exc:
        return type(exc)
    assert runtime.engine.pool.checkedout() == 0  # the request's session went back to the pool
    shape_errors(result, None)  # as the HTTP view does (`SubgraphGraphQL.process_result`)
    return result.data, [error.formatted for error in result.errors or ()]


CASES = [
    pytest.param('{ hello(name: "you") }', {}, id="data"),
    pytest.param("{ refused }", {}, id="domain error"),
    pytest.param("{ broken }", {}, id="unexpected error"),
    pytest.param('{ one hello(name: "x") }', {}, id="a read"),
    pytest.param("mutation { inTransaction }", {}, id="mutation"),
    pytest.param("{ hello(", {}, id="syntax error"),
    pytest.param("{ nothing }", {}, id="validation error"),
    pytest.param(
        "query Q($name: String!) { hello(name: $name) }", {"variable_values": {"name": 3}}, id="bad variable"
    ),
    pytest.param("query A { one }", {"operation_name": "B"}, id="unknown operation name"),
    pytest.param(
        "mutation { inTransaction }",
        {"allowed_operation_types": {OperationType.QUERY}},
        id="mutation where only queries are allowed",
    ),
    pytest.param("subscription { ticks }", {}, id="subscription"),
]


@pytest.mark.parametrize(("query", "kwargs"), CASES)
async def test_an_operation_is_answered_as_strawberry_answers_it(
    runtime: Runtime[Any], query: str, kwargs: dict[str, Any]
) -> None:
    # Given an operation, valid or not
    # When our schema runs it, and Strawberry's execute runs it with the same extension
    ours = await _answer(runtime, type(schema).execute, query, **kwargs)
    strawberrys = await _answer(
        runtime,
        strawberry.federation.Schema.execute,
        query,
        **kwargs | {"allowed_operation_types": _without_subscriptions(kwargs)},
    )

    # Then both answer alike: data, errors with their codes, or the same refusal
    assert ours == strawberrys
    if isinstance(ours, tuple):
        assert all(error["extensions"]["code"] for error in ours[1])


async def test_a_document_of_several_operations_none_named_is_refused(runtime: Runtime[Any]) -> None:
    # Given a document of two operations, and no operation name
    # When it is executed
    answer = await _answer(runtime, type(schema).execute, "query A { one } query B { one }")

    # Then nothing runs, and the error says why (Strawberry ran the first operation)
    assert answer == (
        None,
        [
            {
                "message": "Must provide operation name if query contains multiple operations.",
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ],
    )


def _without_subscriptions(kwargs: dict[str, Any]) -> set[OperationType]:
    """What our schema allows of what was asked: a subscription never runs as a request."""
    allowed = kwargs.get("allowed_operation_types") or {OperationType.QUERY, OperationType.MUTATION}
    return set(allowed) - {OperationType.SUBSCRIPTION}


async def test_a_mutation_runs_in_the_request_transaction(runtime: Runtime[Any]) -> None:
    # Given a mutation that asks whether its session is in a transaction
    # When it runs
    mutation = await schema.execute("mutation { inTransaction }", context_value=request_context(runtime))

    # Then it is, and its answer has no error
    assert mutation.errors is None
    assert mutation.data == {"inTransaction": True}
