"""Stage: validate the document against the API schema (the supergraph without its `@inaccessible` parts), so
a client cannot name what the router does not expose."""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, GraphQLSchema, validate

from router.pipeline.errors import GRAPHQL_VALIDATION_FAILED, graphql_error


def validate_document(schema: GraphQLSchema, document: DocumentNode) -> list[dict[str, Any]]:
    """The validation errors (none: the document is valid)."""
    return [graphql_error(e, GRAPHQL_VALIDATION_FAILED) for e in validate(schema, document)]
