"""`shared.graphql_lifecycle.Documents`: an operation's text parsed once and its document validated once, the
errors of either given again each time."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import strawberry

from shared import graphql_lifecycle as shared_graphql
from shared.graphql_lifecycle import Documents


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str) -> str:
        return f"hello {name}"


schema = strawberry.Schema(query=Query, extensions=[Documents])


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    validated: list[Any] = []
    validate = shared_graphql.validate_document

    def counting(*args: Any) -> Any:
        validated.append(args[1])
        return validate(*args)

    monkeypatch.setattr(shared_graphql, "validate_document", counting)
    return validated


async def test_an_operation_is_parsed_and_validated_once(validations: list[Any]) -> None:
    # Given an operation's text not seen before
    name = uuid.uuid4().hex
    query = f'{{ hello(name: "{name}") }}'

    # When it runs three times
    results = [await schema.execute(query) for _ in range(3)]

    # Then each answer is right, from one parse and one validation
    assert [result.data for result in results] == [{"hello": f"hello {name}"}] * 3
    assert len(validations) == 1


async def test_an_invalid_operation_fails_each_time_validated_once(validations: list[Any]) -> None:
    query = f"{{ hello x{uuid.uuid4().hex[:6]}: hello }}"
    results = [await schema.execute(query) for _ in range(2)]
    messages = [[error.message for error in result.errors or []] for result in results]
    assert messages[0] and messages[0] == messages[1]
    assert "hello(name:)" in messages[0][0]
    assert len(validations) == 1


async def test_a_syntax_error_fails_each_time() -> None:
    query = f"{{ hello(name: {uuid.uuid4().hex[:6]} "
    results = [await schema.execute(query) for _ in range(2)]
    assert all(result.errors and "Syntax Error" in result.errors[0].message for result in results)
