"""Stage: coerce the variables against the operation's definitions (BAD_USER_INPUT when they do not fit).
Subgraphs get the client's own JSON values (custom scalars stay as sent), defaults filled in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import GraphQLSchema, OperationDefinitionNode, value_from_ast_untyped
from graphql.execution.values import get_variable_values

from router.pipeline.errors import BAD_USER_INPUT, RequestError, graphql_error


def coerce_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
) -> dict[str, Any]:
    inputs = dict(variables or {})
    definitions = operation.variable_definitions or ()
    coerced = get_variable_values(schema, definitions, inputs)
    if isinstance(coerced, list):
        raise RequestError([graphql_error(e, BAD_USER_INPUT) for e in coerced])
    for definition in definitions:
        name = definition.variable.name.value
        if name not in inputs and definition.default_value is not None:
            inputs[name] = value_from_ast_untyped(definition.default_value)
    return inputs
