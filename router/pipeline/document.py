"""The document stages together, cached by the query text: parse → bound the work → validate. A text seen
before costs one cache lookup, whether it was valid or not (the errors are cached too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from graphql import DocumentNode, FragmentDefinitionNode, GraphQLSchema

from router.pipeline.bound import bound_work
from router.pipeline.errors import RequestError
from router.pipeline.parse import parse_document
from router.pipeline.validate import validate_document


@dataclass(frozen=True, slots=True)
class RouterLimits:
    """What one operation may ask for (router.yaml's `limits:`), and how many documents and plans are kept."""

    max_depth: int = 100
    max_aliases: int = 1000
    max_root_fields: int = 100
    max_height: int = 1000
    max_field_merges: int = 5000
    max_tokens: int = 15000
    plan_cache_size: int = 1000


@dataclass(slots=True)
class PreparedDocument:
    """A validated document (or the errors that refuse it) and the text it was parsed from."""

    text: str
    document: DocumentNode | None
    errors: list[dict[str, Any]] | None
    fragments: dict[str, FragmentDefinitionNode]


class DocumentStages:
    def __init__(self, schema: GraphQLSchema, limits: RouterLimits) -> None:
        self.schema = schema
        self.limits = limits
        self._cache: LRUCache[str, PreparedDocument] | None = (
            LRUCache(limits.plan_cache_size) if limits.plan_cache_size > 0 else None
        )

    def prepare(self, query: str) -> PreparedDocument:
        cache = self._cache
        if cache is not None:
            try:
                return cache[query]
            except KeyError:
                pass
        prepared = self._prepare(query)
        if cache is not None:
            cache[query] = prepared
        return prepared

    def _prepare(self, query: str) -> PreparedDocument:
        limits = self.limits
        try:
            document = parse_document(query, limits.max_tokens)
        except RequestError as refused:
            return PreparedDocument(query, None, refused.errors, {})
        errors = bound_work(document, limits) or validate_document(self.schema, document)
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        return PreparedDocument(query, document, errors or None, fragments)
