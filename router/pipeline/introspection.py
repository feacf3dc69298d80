"""The root `__schema` and `__type` fields, answered by the router from the API schema (never planned: no
subgraph knows the whole API), or refused (INTROSPECTION_DISABLED) where introspection is off: by default in
production, where the schema is nobody's business but the frontends' (`__typename` stays: clients need it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    SelectionSetNode,
    experimental_execute_incrementally,
)
from pydantic import BaseModel

from router.pipeline.errors import INTROSPECTION_DISABLED, RequestError

PRODUCTION = "production"


def introspect(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The introspection fields' data and errors (the operation's other root fields left out)."""
    selections = tuple(
        s
        for s in operation.selection_set.selections
        if isinstance(s, FieldNode) and s.name.value in ("__schema", "__type")
    )
    attrs = {k: getattr(operation, k) for k in operation.keys if k != "loc"}
    only = operation.__class__(**{**attrs, "selection_set": SelectionSetNode(selections=selections)})
    definitions = tuple(d if d is not operation else only for d in document.definitions)
    # The API schema defines @defer (the router answers it), which graphql-core's plain `execute` refuses.
    result = experimental_execute_incrementally(
        schema,
        DocumentNode(definitions=definitions),
        variable_values=dict(variables),
        operation_name=operation.name.value if operation.name else None,
    )
    if not isinstance(result, ExecutionResult):  # @defer inside the introspection fields: answered whole
        result = result.initial_result  # type: ignore[assignment]
    errors = [dict(e.formatted) for e in result.errors or ()]
    return dict(result.data or {}), errors  # type: ignore[arg-type]


class IntrospectionConfig(BaseModel):
    """`introspection:` in router.yaml."""

    # None: on, except when MYSHOP_ENV=production; true or false decides for every environment.
    enabled: bool | None = None

    def allowed(self, environment: str) -> bool:
        if self.enabled is not None:
            return self.enabled
        return environment.strip().lower() != PRODUCTION


def introspection_disabled() -> RequestError:
    return RequestError.of("introspection has been disabled", INTROSPECTION_DISABLED, 400)
