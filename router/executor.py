"""Runs a query plan: sends each fetch to its subgraph (one pooled keep-alive client per subgraph),
merges the answers into one tree, and shapes that tree into the client's response."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial
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
# Compiled representation builders kept per fetch (bounded: plans come and go with the plan cache).
_KEYER_CACHE_SIZE = 4096


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
        self._keyers: dict[Fetch, Any] = {}

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
        found: list[dict[str, Any]] = []
        _entities_at(run.data, flatten.path, found)
        for path in flatten.more_paths:  # one fetch for the entities of several paths
            _entities_at(run.data, path, found)
        # The merged tree shares objects (one answer merged into every owner of a representation): an entity
        # reached twice is one owner, merged once.
        seen: set[int] = set()
        representations: list[dict[str, Any]] = []
        index_of: dict[Any, int] = {}
        owners: list[list[dict[str, Any]]] = []
        keyed = self._keyed(fetch)
        for entity in found:
            if id(entity) in seen:
                continue
            seen.add(id(entity))
            representation, key = keyed(entity)
            if representation is None:
                continue
            index = index_of.get(key)
            if index is None:
                index = index_of[key] = len(representations)
                representations.append(representation)
                owners.append([entity])
            else:
                owners[index].append(entity)
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
            merge = self._merge
            for index, result in enumerate(entities[: len(owners)]):
                if type(result) is dict:
                    for entity in owners[index]:
                        merge(entity, result)
        errors = payload.get("errors")
        if errors:
            self._entity_errors(flatten, run, errors, owners)

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
                            _collect(run.data, flatten_path, 0, [], located)
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

    def _keyed(self, fetch: Fetch) -> Any:
        """`entity -> (representation or None, its deduplication key)` for `fetch`, made once per fetch."""
        keyed = self._keyers.get(fetch)
        if keyed is None:
            if len(self._keyers) >= _KEYER_CACHE_SIZE:
                self._keyers.clear()  # plans evicted from the gateway's cache must not stay alive here
            keyed = self._keyers[fetch] = self._compile_keyed(fetch)
        return keyed

    def _compile_keyed(self, fetch: Fetch) -> Any:
        assert fetch.requires is not None
        # (type condition, the types it matches, (response key, representation name) of each flat field).
        cases: list[tuple[str | None, frozenset[str], tuple[tuple[str, str], ...]]] = []
        for item in fetch.requires.items.values():
            if isinstance(item, OutField):
                continue
            condition = item.type_condition
            fields = []
            for sub in item.sub.items.values():
                if not isinstance(sub, OutField) or sub.sub is not None:
                    fields = None  # nested (a compound key, @requires of an object): the general way
                    break
                if sub.name != "__typename":
                    fields.append((sub.alias or sub.name, sub.name))
            if fields is None:
                return partial(self._keyed_general, fetch)
            matches = self.supergraph.runtime_types(condition) if condition is not None else frozenset()
            cases.append((condition, matches, tuple(fields)))
        renamed = fetch.interface_objects

        def keyed(entity: dict[str, Any]) -> tuple[dict[str, Any] | None, Any]:
            typename = entity.get("__typename")
            if typename is None:
                return None, None
            for condition, matches, fields in cases:
                if condition is None or condition == typename or typename in matches:
                    representation = {}
                    strings = True
                    for key, name in fields:
                        if key not in entity:
                            return None, None
                        value = representation[name] = entity[key]
                        if type(value) is not str:
                            strings = False
                    typename = representation["__typename"] = renamed.get(condition, typename)
                    if strings:  # IDs as strings, the usual key: a tuple is a cheaper key than JSON
                        return representation, (typename, *representation.values())
                    return representation, orjson.dumps(representation, option=orjson.OPT_SORT_KEYS)
            return None, None

        return keyed

    def _keyed_general(self, fetch: Fetch, entity: dict[str, Any]) -> tuple[dict[str, Any] | None, Any]:
        representation = self._representation(entity, fetch)
        if representation is None:
            return None, None
        return representation, orjson.dumps(representation, option=orjson.OPT_SORT_KEYS)

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
            if existing is None or existing is value:
                target[key] = value
            elif key == "__typename":
                if value in self._object_types:
                    target[key] = value
            elif type(existing) is dict and type(value) is dict:
                self._merge(existing, value)
            elif type(existing) is list and type(value) is list and len(existing) == len(value):
                self._merge_lists(existing, value)
            else:
                target[key] = value

    def _merge_lists(self, target: list[Any], source: list[Any]) -> None:
        for i, value in enumerate(source):
            existing = target[i]
            if existing is value:
                continue
            if type(existing) is dict and type(value) is dict:
                self._merge(existing, value)
            elif type(existing) is list and type(value) is list and len(existing) == len(value):
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


def _entities_at(root: Any, path: tuple[str, ...], out: list[dict[str, Any]]) -> None:
    """The objects at `path` (`@` steps into a list) in document order, appended to `out`: `_collect` without
    the response paths, one level at a time."""
    level = [root]
    for key in path:
        below: list[Any] = []
        if key == "@":
            for value in level:
                if type(value) is list:
                    below.extend(value)
        else:
            for value in level:
                if type(value) is dict:
                    child = value.get(key)
                    if child is not None:
                        below.append(child)
                elif type(value) is list:  # a list where an object was expected: its items, at this key
                    _flatten_at(value, key, below)
        level = below
    for value in level:
        if type(value) is dict:
            out.append(value)
        elif type(value) is list:
            _flatten_at(value, None, out)


def _flatten_at(items: list[Any], key: str | None, out: list[Any]) -> None:
    """The items of `items` (nested lists flattened): each object's `key` (the object itself when None)."""
    for item in items:
        if type(item) is list:
            _flatten_at(item, key, out)
        elif type(item) is dict:
            if key is None:
                out.append(item)
            else:
                child = item.get(key)
                if child is not None:
                    out.append(child)


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


# The shaper's steps, one per selection: (kind, @skip/@include conditions, ...), by kind:
#   _LEAF (key, non-null)  _COMPLETE (key, non-null, field, steps of its selections or None for an enum)
#   _TYPENAME (key)  _FRAGMENT (types it applies to, its steps)
#   _OBJECT, _OBJECT_LIST: _COMPLETE's fast ways for an object and a list of objects (non-null or not), with
#   (..., the field's type, whether list items are non-null)
_LEAF, _COMPLETE, _TYPENAME, _FRAGMENT = "leaf", "complete", "typename", "fragment"
_OBJECT, _OBJECT_LIST = "object", "object list"
_Steps = tuple[bool, tuple[tuple[Any, ...], ...]]  # (whether a step needs the runtime type, the steps)
_SHAPER_CACHE_SIZE = 4096


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
        # id(an operation's selections) -> (them, the root type, their steps).
        self._operations: dict[int, tuple[list[Selection], str, _Steps]] = {}

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
        if not self._object(self._compiled(selections, root_type), data, root_type, variables, out):
            return None
        return out

    # -- the selections, compiled once per operation into steps ---------------------------------------------

    def _compiled(self, selections: list[Selection], root_type: str) -> _Steps:
        cached = self._operations.get(id(selections))
        if cached is not None and cached[0] is selections and cached[1] == root_type:
            return cached[2]
        if len(self._operations) >= _SHAPER_CACHE_SIZE:
            self._operations.clear()  # operations evicted from the gateway's plan cache must not stay alive
        steps = self._compile(selections, root_type)
        self._operations[id(selections)] = (selections, root_type, steps)
        return steps

    def _compile(self, selections: list[Selection], type_name: str) -> _Steps:
        """The steps that shape an object of `type_name` (abstract or not) for `selections`; fragments that
        always apply (no type condition, or the field's own type) are inlined."""
        steps: list[tuple[Any, ...]] = []
        self._compile_into(selections, type_name, (), steps)
        needs_runtime = any(step[0] in (_TYPENAME, _FRAGMENT) for step in steps)
        return needs_runtime, tuple(steps)

    def _compile_into(
        self,
        selections: list[Selection],
        type_name: str,
        outer: tuple[tuple[str, bool], ...],
        steps: list[tuple[Any, ...]],
    ) -> None:
        for selection in selections:
            conditions = outer + tuple(selection.conditions)
            if isinstance(selection, Fragment):
                condition = selection.type_condition
                if condition is None or condition == type_name:
                    self._compile_into(selection.selections, type_name, conditions, steps)
                else:
                    matches = self.supergraph.runtime_types(condition) | {condition}
                    sub = self._compile(selection.selections, type_name)
                    steps.append((_FRAGMENT, conditions, matches, sub))
                continue
            key = selection.response_key
            if selection.name == "__typename":
                steps.append((_TYPENAME, conditions, key))
            elif selection.selections is None and selection.type_name not in self._enum_values:
                steps.append((_LEAF, conditions, key, selection.non_null))
            elif selection.selections is None:  # an enum
                steps.append((_COMPLETE, conditions, key, selection.non_null, selection, None))
            else:
                sub = self._compile(selection.selections, selection.type_name)
                wrappers = tuple(w for w in selection.wrappers if w != "!")
                if not wrappers:
                    kind = _OBJECT
                elif wrappers == ("[",):
                    kind = _OBJECT_LIST
                else:
                    kind = _COMPLETE
                item_non_null = selection.wrappers[-1:] == ("!",)
                steps.append(
                    (
                        kind,
                        conditions,
                        key,
                        selection.non_null,
                        selection,
                        sub,
                        selection.type_name,
                        item_non_null,
                    )
                )

    # -- shaping -------------------------------------------------------------------------------------------

    def _object(
        self,
        compiled: _Steps,
        value: dict[str, Any],
        type_name: str,
        variables: Mapping[str, Any],
        out: dict[str, Any],
    ) -> bool:
        needs_runtime, steps = compiled
        runtime = None
        if needs_runtime:
            runtime = value.get("__typename")
            if runtime not in self._object_types:
                runtime = type_name if type_name in self._object_types else runtime
        get = value.get
        hidden = self._hidden_types
        for step in steps:
            if step[1] and not _conditions_hold(step[1], variables):
                continue
            kind = step[0]
            if kind is _LEAF:
                key = step[2]
                raw = get(key)
                if raw is None and step[3]:
                    return False
                out[key] = raw
            elif kind is _OBJECT:
                key = step[2]
                raw = get(key)
                completed = None
                if type(raw) is dict and not (hidden and raw.get("__typename") in hidden):
                    existing = out.get(key)
                    into = existing if type(existing) is dict else {}
                    if self._object(step[5], raw, step[6], variables, into):
                        completed = into
                if completed is None and step[3]:
                    return False
                out[key] = completed
            elif kind is _OBJECT_LIST:
                key = step[2]
                raw = get(key)
                completed = None
                if type(raw) is list:
                    existing = out.get(key)
                    previous = existing if type(existing) is list else ()
                    known = len(previous)
                    sub, item_type, item_non_null = step[5], step[6], step[7]
                    completed = []
                    for i, item in enumerate(raw):
                        shaped = None
                        if type(item) is dict and not (hidden and item.get("__typename") in hidden):
                            before = previous[i] if i < known else None
                            into = before if type(before) is dict else {}
                            if self._object(sub, item, item_type, variables, into):
                                shaped = into
                        if shaped is None and item_non_null:
                            completed = None
                            break
                        completed.append(shaped)
                if completed is None and step[3]:
                    return False
                out[key] = completed
            elif kind is _COMPLETE:
                key = step[2]
                raw = get(key)
                completed = (
                    None if raw is None else self._complete(raw, step[4], step[5], 0, variables, out.get(key))
                )
                if completed is None and step[3]:
                    return False
                out[key] = completed
            elif kind is _TYPENAME:
                out[step[2]] = runtime
            elif runtime in step[2] and not self._object(step[3], value, type_name, variables, out):
                return False
        return True

    def _complete(
        self,
        raw: Any,
        field: Field,
        compiled: _Steps | None,
        index: int,
        variables: Mapping[str, Any],
        existing: Any,
    ) -> Any:
        wrappers = field.wrappers
        if index < len(wrappers) and wrappers[index] == "!":
            index += 1
        if raw is None:
            return None
        if index < len(wrappers) and wrappers[index] == "[":
            if type(raw) is not list:
                return None
            item_non_null = index + 1 < len(wrappers) and wrappers[index + 1] == "!"
            items = []
            previous_items = existing if type(existing) is list else ()
            known = len(previous_items)
            for i, item in enumerate(raw):
                previous = previous_items[i] if i < known else None
                completed = self._complete(item, field, compiled, index + 1, variables, previous)
                if completed is None and item_non_null:
                    return None
                items.append(completed)
            return items
        if compiled is None:
            # An enum: a value the API schema does not have (inaccessible, or another subgraph's) is null.
            return raw if raw in self._enum_values[field.type_name] else None
        if type(raw) is not dict:
            return None
        if self._hidden_types and raw.get("__typename") in self._hidden_types:
            return None
        out = existing if type(existing) is dict else {}
        if not self._object(compiled, raw, field.type_name, variables, out):
            return None
        return out


def _conditions_hold(conditions: tuple[tuple[str, bool], ...], variables: Mapping[str, Any]) -> bool:
    return all(bool(variables.get(name)) == expected for name, expected in conditions)
