"""Runs a query plan: sends each fetch to its subgraph through the subgraph client and merges the answers
into one tree (router/execution/shaper.py then shapes it into the client's response)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from opentelemetry.trace import Tracer

from router.execution.context_fetch import contextual_fetch
from router.execution.entity_cache import EntityCache, Slot, cache_control_ttl
from router.execution.merge import merge, merge_entities
from router.execution.paths import collect, entities_at
from router.execution.representations import Representations
from router.ops.telemetry import plan_node_span
from router.planner.aliasing import rename_aliased
from router.planner.nodes import Condition, Fetch, Flatten, Parallel, PlanNode, Sequence
from router.supergraph.model import Supergraph
from router.upstream.client import SubgraphClient
from router.upstream.headers import HeaderPropagation
from router.upstream.transport import SubgraphFetchError
from router.upstream.uploads import FetchUpload, fetch_upload, request_files

GATEWAY_TIMEOUT = "GATEWAY_TIMEOUT"


class _Run:
    """The state of one execution: the merged data and the errors so far."""

    __slots__ = ("cache_reads", "data", "deadline", "errors", "headers", "variables")

    def __init__(self, variables: Mapping[str, Any], headers: Mapping[str, str] | None) -> None:
        self.data: dict[str, Any] = {}
        # A mutation's entity fetches skip the entity cache's answers (it may just have changed them).
        self.cache_reads = True
        self.errors: list[dict[str, Any]] = []
        self.variables = variables
        self.headers = headers
        self.deadline: float | None = None  # the event loop's clock: when the request's time is up


class Executor:
    def __init__(
        self, supergraph: Supergraph, client: SubgraphClient, headers: HeaderPropagation | None = None
    ) -> None:
        """`client` sends the fetches (it applies router.yaml's header rules itself); `headers` are those
        rules by graph, which the entity cache's keys need too."""
        self.supergraph = supergraph
        self.client = client
        self.headers = headers or HeaderPropagation()
        self._object_types = frozenset(n for n, t in supergraph.types.items() if t.kind == "object")
        self.representations = Representations(supergraph)
        # The optional entity cache (router/execution/entity_cache.py); None: every entity is fetched.
        self.entity_cache: EntityCache | None = None

    async def run(
        self,
        node: PlanNode | None,
        variables: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        data: dict[str, Any] | None = None,
        time_limit: float | None = None,
        cache_reads: bool = True,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Runs ``node``; ``data`` starts the merged tree (a subscription event for its Rest plan)."""
        run = _Run(variables, headers)
        run.cache_reads = cache_reads
        files = request_files.get()
        if files is not None and node is not None:  # a multipart request: which fetches send which file
            files.expect(fetch.variable_usages for fetch in _fetches(node))
        if data is not None:
            run.data = data
        if node is not None and time_limit is None:
            await self._node(node, run)
        elif node is not None:
            # Past `time_limit` the fetches still running are cancelled; what arrived stays in the answer.
            run.deadline = asyncio.get_running_loop().time() + time_limit
            try:
                async with asyncio.timeout(time_limit):
                    await self._node(node, run)
            except TimeoutError:
                run.errors.append(
                    {
                        "message": f"the request did not complete within {time_limit:g} s",
                        "extensions": {"code": GATEWAY_TIMEOUT},
                    }
                )
        return run.data, run.errors

    # Set by router/ops/telemetry.py when the router records spans: one per plan node (fetches have their
    # own).
    tracer: Tracer | None = None

    async def _node(self, node: PlanNode, run: _Run) -> None:
        if self.tracer is not None and not isinstance(node, Fetch):
            with plan_node_span(self.tracer, node):
                await self._visit(node, run)
        else:
            await self._visit(node, run)

    async def _visit(self, node: PlanNode, run: _Run) -> None:
        if isinstance(node, Fetch):
            await self._root_fetch(node, run)
        elif isinstance(node, Flatten):
            await self._entity_fetch(node, run)
        elif isinstance(node, Sequence):
            for child in node.nodes:
                await self._node(child, run)
        elif isinstance(node, Parallel):
            await asyncio.gather(*(self._node(child, run) for child in node.nodes))
        elif isinstance(node, Condition):
            branch = node.if_clause if run.variables.get(node.variable) else node.else_clause
            if branch is not None:
                await self._node(branch, run)

    async def _send(self, fetch: Fetch, run: _Run, extra: dict[str, Any] | None) -> dict[str, Any] | None:
        variables = {v: run.variables[v] for v in fetch.variable_usages if v in run.variables}
        if extra:
            variables.update(extra)
        # A fetch carrying a client's files goes as a multipart request (router/upstream/uploads.py), never
        # retried nor shared (its body streams once).
        upload = FetchUpload.of(variables)
        if upload is not None:
            variables = upload.variables
        body: dict[str, Any] = {"query": fetch.operation}
        if variables:
            body["variables"] = variables
        token = fetch_upload.set(upload) if upload is not None else None
        try:
            return await self.client.post(
                fetch.graph,
                body,
                run.headers,
                mutation=fetch.operation_kind == "mutation" or upload is not None,
                deadline=run.deadline,
            )
        except SubgraphFetchError as error:
            run.errors.append(
                {
                    "message": f"HTTP fetch failed from '{fetch.service}': {error or type(error).__name__}",
                    "extensions": {"code": error.code, "service": fetch.service},
                }
            )
            return None
        finally:
            if token is not None:
                fetch_upload.reset(token)

    async def _root_fetch(self, fetch: Fetch, run: _Run) -> None:
        payload = await self._send(fetch, run, None)
        if payload is None:
            return
        data = payload.get("data")
        if isinstance(data, dict):
            if fetch.renames:
                rename_aliased(data, fetch.selection)
            self._merge(run.data, data)
        for error in payload.get("errors") or ():
            run.errors.append(_with_service(error, fetch.service))

    async def _entity_fetch(self, flatten: Flatten, run: _Run) -> None:
        fetch = flatten.node
        assert fetch.requires is not None
        if fetch.context_rewrites:
            # @fromContext values differ per entity (router/execution/context_fetch.py).
            await contextual_fetch(self, flatten, run)
            return
        found: list[dict[str, Any]] = []
        entities_at(run.data, flatten.path, found)
        for path in flatten.more_paths:  # one fetch for the entities of several paths
            entities_at(run.data, path, found)
        # The merged tree shares objects (one answer merged into every owner of a representation): an entity
        # reached twice is one owner, merged once.
        representations, owners = self.representations.grouped(fetch)(found)
        if not representations:
            return
        cache = self.entity_cache
        if cache is not None and fetch.graph in cache.graphs:
            entities, errors = await self._cached_entities(fetch, run, representations, cache)
        else:
            payload = await self._send(fetch, run, {"representations": representations})
            if payload is None:
                return
            data = payload.get("data")
            entities = data.get("_entities") if isinstance(data, dict) else None
            errors = payload.get("errors")
        if isinstance(entities, list):
            if fetch.renames:
                rename_aliased(entities, fetch.selection)
            merge_entities(entities, owners, self._object_types)
        if errors:
            self._entity_errors(flatten, run, errors, owners)

    async def _cached_entities(
        self, fetch: Fetch, run: _Run, representations: list[dict[str, Any]], cache: EntityCache
    ) -> tuple[list[Any] | None, list[Any] | None]:
        """`_entities` and the errors for `representations`, those in the cache from it, the others from the
        subgraph (kept for next time where the answer allows); errors' paths index `representations`."""
        variables = {v: run.variables[v] for v in fetch.variable_usages if v in run.variables}
        outgoing = self.headers.for_subgraph(fetch.graph, run.headers)
        slots = cache.slots(fetch, representations, variables, outgoing)
        entities: list[Any] = [None] * len(representations)
        missing: list[int] = []
        if run.cache_reads:
            for index, raw in enumerate(await cache.read(slots)):
                if raw is None:
                    missing.append(index)
                else:
                    entities[index] = orjson.loads(raw)
        else:
            missing = list(range(len(representations)))
        if not missing:
            return entities, None
        payload = await self._send(fetch, run, {"representations": [representations[i] for i in missing]})
        if payload is None:
            return entities, None
        data = payload.get("data")
        fetched = data.get("_entities") if isinstance(data, dict) else None
        errors: list[Any] = []
        # Indexes (into `missing`) of answers an error touches; None: an error without one touches them all.
        failed: set[int] | None = set()
        for error in payload.get("errors") or ():
            path = error.get("path") if isinstance(error, dict) else None
            if isinstance(path, list) and len(path) >= 2 and path[0] == "_entities" and type(path[1]) is int:
                if failed is not None:
                    failed.add(path[1])
                if 0 <= path[1] < len(missing):
                    error = {**error, "path": ["_entities", missing[path[1]], *path[2:]]}
            else:
                failed = None
            errors.append(error)
        if not isinstance(fetched, list):
            return entities, errors
        keep: list[tuple[Slot, bytes, int]] = []
        cache_control = getattr(payload, "cache_control", None)
        for j, result in enumerate(fetched[: len(missing)]):
            index = missing[j]
            entities[index] = result
            slot = slots[index]
            if slot is None or type(result) is not dict or failed is None or j in failed:
                continue
            seconds = cache_control_ttl(cache_control, slot.ttl, slot.public)
            if seconds > 0:
                keep.append((slot, orjson.dumps(result), seconds))
        await cache.write(keep)
        return entities, errors

    def _entity_errors(
        self, flatten: Flatten, run: _Run, errors: list[Any], owners: list[list[dict[str, Any]]]
    ) -> None:
        fetch = flatten.node
        paths_of: dict[int, list[list[str | int]]] | None = None
        for error in errors:
            path = error.get("path") if isinstance(error, dict) else None
            if (
                isinstance(path, list)
                and len(path) >= 2
                and path[0] == "_entities"
                and isinstance(path[1], int)
            ):
                if path[1] < len(owners):
                    if paths_of is None:  # the response paths of the entities, found only when needed
                        paths_of = {}
                        located: list[tuple[dict[str, Any], list[str | int]]] = []
                        for flatten_path in (flatten.path, *flatten.more_paths):
                            collect(run.data, flatten_path, 0, [], located)
                        for entity, entity_path in located:
                            paths_of.setdefault(id(entity), []).append(entity_path)
                    for entity in owners[path[1]]:
                        for entity_path in paths_of.get(id(entity), ()):
                            run.errors.append(
                                _with_service({**error, "path": entity_path + path[2:]}, fetch.service)
                            )
                    continue
            if isinstance(error, dict):
                error = {k: v for k, v in error.items() if k != "path"}
            run.errors.append(_with_service(error, fetch.service))

    def _merge(self, target: dict[str, Any], source: dict[str, Any]) -> None:
        merge(target, source, self._object_types)


def _with_service(error: Any, service: str) -> dict[str, Any]:
    """A subgraph's error as the client sees it: extensions unchanged; no `locations`, which point into the
    operation the router sent, a document the client never saw."""
    if not isinstance(error, dict):
        return {"message": str(error), "extensions": {"service": service}}
    if "locations" in error:
        error = {key: value for key, value in error.items() if key != "locations"}
    return error


def _fetches(node: PlanNode) -> Iterator[Fetch]:
    """Every fetch of a plan (both branches of a condition)."""
    if isinstance(node, Fetch):
        yield node
    elif isinstance(node, Flatten):
        yield node.node
    elif isinstance(node, Condition):
        for branch in (node.if_clause, node.else_clause):
            if branch is not None:
                yield from _fetches(branch)
    else:
        for child in getattr(node, "nodes", ()):
            yield from _fetches(child)
