"""The document stages together, cached by the query text: parse → bound the work → validate. A text seen
before costs one cache lookup, whether it was valid or not (validation errors are cached too; refusals of
the parser and the limits are not, see prepare()); a text not seen before is prepared in a worker thread
(ColdWork)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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
    # Worker threads that parse, validate and plan documents not seen before (0: on the event loop).
    planning_threads: int = 1


@dataclass(slots=True)
class PreparedDocument:
    """A validated document (or the errors that refuse it) and the text it was parsed from."""

    text: str
    document: DocumentNode | None
    errors: list[dict[str, Any]] | None
    fragments: dict[str, FragmentDefinitionNode]


T = TypeVar("T")

# A text this short (at most ~770 tokens: a fragment bomb of 2^30 fields is 1.3 KB) parses and is bounded
# in a few milliseconds: on the loop.
INLINE_CHARACTERS = 1536


class ColdWork:
    """The stages a document not seen before needs (parse, bound, validate, normalize, plan) run here, in
    worker threads, at most `threads` at once, so they never hold the event loop: a legal document can
    cost 0.3 s to parse (15,000 tokens) and 0.1 s to plan, while a cached one is answered from the loop.
    The GIL still runs one thread at a time, but it hands the loop a turn every few milliseconds. Cold
    documents past `threads` wait their turn; warm ones never do."""

    def __init__(self, threads: int) -> None:
        self._slots = asyncio.Semaphore(threads)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            return await asyncio.to_thread(work, *args)


class DocumentStages:
    def __init__(self, schema: GraphQLSchema, limits: RouterLimits) -> None:
        self.schema = schema
        self.limits = limits
        self._cache: LRUCache[str, PreparedDocument] | None = (
            LRUCache(limits.plan_cache_size) if limits.plan_cache_size > 0 else None
        )
        # Texts being prepared off the loop now: later requests for one wait for it.
        self._preparing: dict[str, asyncio.Future[PreparedDocument]] = {}
        # Off the loop only with a cache to keep the answer in until the stages ask for it.
        self.cold: ColdWork | None = (
            ColdWork(limits.planning_threads)
            if limits.planning_threads > 0 and self._cache is not None
            else None
        )

    async def prepare_off_loop(self, query: str) -> PreparedDocument:
        """`prepare(query)`, a text not seen before prepared in a worker thread (then cached: the caches
        are only ever touched from the loop). Requests for a text already being prepared wait for it: a
        new document sent by many clients at once (a deploy, a thousand subscribers) is prepared once."""
        cache = self._cache
        if cache is None or self.cold is None:
            return self.prepare(query)
        try:
            return cache[query]
        except KeyError:
            pass
        pending = self._preparing.get(query)
        if pending is None:
            pending = self._preparing[query] = asyncio.ensure_future(self._prepare_cold(query, self.cold))
            pending.add_done_callback(lambda _: self._preparing.pop(query, None))
        return await asyncio.shield(pending)  # one waiter cancelled does not cancel the others' work

    async def _prepare_cold(self, query: str, cold: ColdWork) -> PreparedDocument:
        if len(query) > INLINE_CHARACTERS:
            bounded = await cold.run(self._bounded, query)
        else:
            # Parsing and bounding a short text costs less than the hop to a thread: a bomb is refused
            # on the loop in about a millisecond.
            bounded = self._bounded(query)
        if isinstance(bounded, PreparedDocument):
            return bounded  # not cached: see prepare()
        prepared = await cold.run(self._validated, query, bounded)
        if self._cache is not None:
            self._cache[query] = prepared
        return prepared

    def cached(self, query: str) -> bool:
        return self._cache is not None and query in self._cache

    def lookup(self, query: str) -> PreparedDocument | None:
        """The prepared document of a text seen before (the hot path: no await), else None."""
        cache = self._cache
        if cache is None:
            return None
        try:
            return cache[query]  # not cache.get(): one Python call fewer on every request
        except KeyError:
            return None

    def prepare(self, query: str) -> PreparedDocument:
        cache = self._cache
        if cache is not None:
            try:
                return cache[query]
            except KeyError:
                pass
        bounded = self._bounded(query)
        if isinstance(bounded, PreparedDocument):
            # A text the parser or the limits refuse is not cached: each bomb with a random comment would
            # evict a document in use, and refusing it again costs about what a cache entry saves.
            return bounded
        prepared = self._validated(query, bounded)
        if cache is not None:
            cache[query] = prepared
        return prepared

    def _bounded(self, query: str) -> PreparedDocument | DocumentNode:
        """The parsed document within the limits, or the refusal of a text that is not (parse, bound)."""
        try:
            document = parse_document(query, self.limits.max_tokens)
        except RequestError as refused:
            return PreparedDocument(query, None, refused.errors, {})
        errors = bound_work(document, self.limits)
        # A refusal keeps no document: the cache holds its errors, not a tree of 15,000 nodes.
        return PreparedDocument(query, None, errors, {}) if errors else document

    def _validated(self, query: str, document: DocumentNode) -> PreparedDocument:
        errors = validate_document(self.schema, document)
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        return PreparedDocument(query, document, errors or None, fragments)
