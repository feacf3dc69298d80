"""Runs a query plan: sends each fetch to its subgraph (one pooled keep-alive client per subgraph),
merges the answers into one tree, and shapes that tree into the client's response."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson

from router.planner.aliasing import rename_aliased
from router.planner.nodes import Condition, Fetch, Flatten, Parallel, PlanNode, Sequence
from router.planner.operation import Field, Fragment, Selection
from router.planner.selections import OutField, SelectionSet
from router.supergraph.model import Supergraph
from router.telemetry import plan_node_span
from router.traffic import Traffic
from router.transport import SubgraphFetchError

GATEWAY_TIMEOUT = "GATEWAY_TIMEOUT"


class _Run:
    """The state of one execution: the merged data and the errors so far."""

    __slots__ = ("data", "deadline", "errors", "headers", "variables")

    def __init__(self, variables: Mapping[str, Any], headers: Mapping[str, str] | None) -> None:
        self.data: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.variables = variables
        self.headers = headers
        self.deadline: float | None = None  # the event loop's clock: when the request's time is up


class Executor:
    def __init__(self, supergraph: Supergraph, clients: Traffic) -> None:
        self.supergraph = supergraph
        self.clients = clients
        self._object_types = frozenset(n for n, t in supergraph.types.items() if t.kind == "object")

    async def run(
        self,
        node: PlanNode | None,
        variables: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        data: dict[str, Any] | None = None,
        time_limit: float | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Runs ``node``; ``data`` starts the merged tree (a subscription event for its Rest plan)."""
        run = _Run(variables, headers)
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

    # Set by router.telemetry when the router records spans: one per plan node (fetches have their own).
    tracer: Any = None

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
        body: dict[str, Any] = {"query": fetch.operation}
        if variables:
            body["variables"] = variables
        try:
            return await self.clients.post(
                fetch.graph,
                body,
                run.headers,
                mutation=fetch.operation_kind == "mutation",
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
        found: list[tuple[dict[str, Any], list[str | int]]] = []
        _collect(run.data, flatten.path, 0, [], found)
        representations: list[dict[str, Any]] = []
        index_of: dict[bytes, int] = {}
        owners: list[list[tuple[dict[str, Any], list[str | int]]]] = []
        for entity, path in found:
            representation = self._representation(entity, fetch)
            if representation is None:
                continue
            key = orjson.dumps(representation, option=orjson.OPT_SORT_KEYS)
            index = index_of.get(key)
            if index is None:
                index = index_of[key] = len(representations)
                representations.append(representation)
                owners.append([])
            owners[index].append((entity, path))
        if not representations:
            return
        payload = await self._send(fetch, run, {"representations": representations})
        if payload is None:
            return
        data = payload.get("data")
        entities = data.get("_entities") if isinstance(data, dict) else None
        if isinstance(entities, list):
            if fetch.renames:
                rename_aliased(entities, fetch.selection)
            for index, result in enumerate(entities[: len(owners)]):
                if isinstance(result, dict):
                    for entity, _ in owners[index]:
                        self._merge(entity, result)
        for error in payload.get("errors") or ():
            path = error.get("path")
            if (
                isinstance(path, list)
                and len(path) >= 2
                and path[0] == "_entities"
                and isinstance(path[1], int)
            ):
                if path[1] < len(owners):
                    for _, entity_path in owners[path[1]]:
                        run.errors.append(
                            _with_service({**error, "path": entity_path + path[2:]}, fetch.service)
                        )
                    continue
            rewritten = {k: v for k, v in error.items() if k != "path"}
            run.errors.append(_with_service(rewritten, fetch.service))

    def _representation(self, entity: dict[str, Any], fetch: Fetch) -> dict[str, Any] | None:
        typename = entity.get("__typename")
        if typename is None:
            return None
        assert fetch.requires is not None
        for item in fetch.requires.items.values():
            if isinstance(item, OutField):
                continue
            condition = item.type_condition
            if (
                condition is None
                or condition == typename
                or typename in self.supergraph.runtime_types(condition)
            ):
                representation = _project(entity, item.sub, self.supergraph)
                if representation is None:
                    return None
                representation["__typename"] = fetch.interface_objects.get(condition, typename)
                return representation
        return None

    def _merge(self, target: dict[str, Any], source: dict[str, Any]) -> None:
        for key, value in source.items():
            existing = target.get(key)
            if key == "__typename":
                if existing is not None and value not in self._object_types:
                    continue
                target[key] = value
            elif isinstance(existing, dict) and isinstance(value, dict):
                self._merge(existing, value)
            elif isinstance(existing, list) and isinstance(value, list) and len(existing) == len(value):
                self._merge_lists(existing, value)
            else:
                target[key] = value

    def _merge_lists(self, target: list[Any], source: list[Any]) -> None:
        for i, value in enumerate(source):
            existing = target[i]
            if isinstance(existing, dict) and isinstance(value, dict):
                self._merge(existing, value)
            elif isinstance(existing, list) and isinstance(value, list) and len(existing) == len(value):
                self._merge_lists(existing, value)
            else:
                target[i] = value


def _with_service(error: Any, service: str) -> dict[str, Any]:
    """A subgraph's error as the client sees it: extensions unchanged; no `locations`, which point into the
    operation the router sent, a document the client never saw."""
    if not isinstance(error, dict):
        return {"message": str(error), "extensions": {"service": service}}
    if "locations" in error:
        error = {key: value for key, value in error.items() if key != "locations"}
    return error


def _collect(
    value: Any,
    path: tuple[str, ...],
    i: int,
    current: list[str | int],
    out: list[tuple[dict[str, Any], list]],
) -> None:
    if value is None:
        return
    if i == len(path):
        if isinstance(value, dict):
            out.append((value, current))
        elif isinstance(value, list):
            for j, item in enumerate(value):
                _collect(item, path, i, [*current, j], out)
        return
    key = path[i]
    if key == "@":
        if isinstance(value, list):
            for j, item in enumerate(value):
                _collect(item, path, i + 1, [*current, j], out)
    elif isinstance(value, dict):
        _collect(value.get(key), path, i + 1, [*current, key], out)
    elif isinstance(value, list):
        for j, item in enumerate(value):
            _collect(item, path, i, [*current, j], out)


def _project(value: dict[str, Any], selection: SelectionSet, sg: Supergraph) -> dict[str, Any] | None:
    """The part of ``value`` that ``selection`` (a key or @requires field set) names."""
    out: dict[str, Any] = {}
    for item in selection.items.values():
        if isinstance(item, OutField):
            if item.name == "__typename":
                continue
            # Fields with arguments were fetched under an alias; the representation names the field.
            key = item.alias or item.name
            if key not in value:
                return None
            field_value = value[key]
            if item.sub is not None and field_value is not None:
                field_value = _project_value(field_value, item.sub, sg)
            out[item.name] = field_value
        else:
            typename = value.get("__typename")
            condition = item.type_condition
            if condition is None or condition == typename or typename in sg.runtime_types(condition):
                nested = _project(value, item.sub, sg)
                if nested is not None:
                    out.update(nested)
    return out


def _project_value(value: Any, selection: SelectionSet, sg: Supergraph) -> Any:
    if isinstance(value, list):
        return [_project_value(v, selection, sg) for v in value]
    if isinstance(value, dict):
        projected = _project(value, selection, sg)
        if projected is not None and "__typename" in value:
            projected = {"__typename": value["__typename"], **projected}
        return projected
    return value


class Shaper:
    """Projects the merged data onto the client's selections: its order, aliases, ``__typename``,
    @skip/@include, and null-bubbling of non-null fields."""

    def __init__(
        self,
        supergraph: Supergraph,
        hidden_types: frozenset[str] = frozenset(),
        enum_values: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.supergraph = supergraph
        self._object_types = frozenset(n for n, t in supergraph.types.items() if t.kind == "object")
        # Object types outside the API schema (@inaccessible): a value of one answers as null.
        self._hidden_types = hidden_types
        # Enum -> the values clients may see; a subgraph's other values (inaccessible) answer as null.
        self._enum_values = dict(enum_values or {})

    def shape(
        self,
        selections: list[Selection],
        data: dict[str, Any],
        root_type: str,
        variables: Mapping[str, Any],
        local: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        if local:
            data = {**data, **local}
        if not self._object(selections, data, root_type, variables, out):
            return None
        return out

    def _object(
        self,
        selections: list[Selection],
        value: dict[str, Any],
        type_name: str,
        variables: Mapping[str, Any],
        out: dict[str, Any],
    ) -> bool:
        runtime = value.get("__typename")
        if runtime not in self._object_types:
            runtime = type_name if type_name in self._object_types else runtime
        for selection in selections:
            if selection.conditions and not _conditions_hold(selection.conditions, variables):
                continue
            if isinstance(selection, Fragment):
                condition = selection.type_condition
                if (
                    condition is None
                    or condition == runtime
                    or condition == type_name
                    or runtime in self.supergraph.runtime_types(condition)
                ):
                    if not self._object(selection.selections, value, type_name, variables, out):
                        return False
                continue
            key = selection.response_key
            if selection.name == "__typename":
                out[key] = runtime
                continue
            raw = value.get(key)
            if raw is None or (selection.selections is None and selection.type_name not in self._enum_values):
                completed = raw
            else:
                completed = self._complete(raw, selection, 0, variables, out.get(key))
            if completed is None and selection.non_null:
                return False
            out[key] = completed
        return True

    def _complete(
        self, raw: Any, field: Field, index: int, variables: Mapping[str, Any], existing: Any
    ) -> Any:
        wrappers = field.wrappers
        if index < len(wrappers) and wrappers[index] == "!":
            index += 1
        if raw is None:
            return None
        if index < len(wrappers) and wrappers[index] == "[":
            if not isinstance(raw, list):
                return None
            item_non_null = index + 1 < len(wrappers) and wrappers[index + 1] == "!"
            items = []
            for i, item in enumerate(raw):
                previous = existing[i] if isinstance(existing, list) and i < len(existing) else None
                completed = self._complete(item, field, index + 1, variables, previous)
                if completed is None and item_non_null:
                    return None
                items.append(completed)
            return items
        if field.selections is None:
            # An enum: a value the API schema does not have (inaccessible, or another subgraph's) is null.
            return raw if raw in self._enum_values[field.type_name] else None
        if not isinstance(raw, dict):
            return None
        if self._hidden_types and raw.get("__typename") in self._hidden_types:
            return None
        out = existing if isinstance(existing, dict) else {}
        assert field.selections is not None
        if not self._object(field.selections, raw, field.type_name, variables, out):
            return None
        return out


def _conditions_hold(conditions: tuple[tuple[str, bool], ...], variables: Mapping[str, Any]) -> bool:
    return all(bool(variables.get(name)) == expected for name, expected in conditions)
