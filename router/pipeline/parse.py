"""Stage: parse the query text into a document, refusing a document of more than `max_tokens` tokens before
building it (graphql-core counts them as it lexes)."""

from __future__ import annotations

from graphql import DocumentNode, GraphQLError, parse

from router.pipeline.errors import GRAPHQL_PARSE_FAILED, RequestError, graphql_error


def parse_document(query: str, max_tokens: int) -> DocumentNode:
    """The document; RequestError (GRAPHQL_PARSE_FAILED) for a text that is not one."""
    try:
        return parse(query, no_location=False, max_tokens=max_tokens)
    except GraphQLError as exc:
        raise RequestError([graphql_error(exc, GRAPHQL_PARSE_FAILED)]) from None
