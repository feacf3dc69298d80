"""Entity fetches with ``@fromContext`` arguments (router/planner/context.py): each entity's context values
are read in the merged tree above it. Entities with the same values share one ``_entities`` call; when values
differ, one request holds an aliased call per set of values (``_0``, ``_1``, ...), each with its own
representations and variables, as Apollo Router does (grouped by value here, not one call per entity)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

from router.planner.aliasing import rename_aliased
from router.planner.nodes import ContextRewrite, Fetch, Flatten

if TYPE_CHECKING:
    from router.execution.executor import Executor, _Run

_ENTITIES = "{_entities(representations:$representations)"
_REPRESENTATIONS = "$representations:[_Any!]!"
# Aliased operations by (fetch, number of value sets); bounded as plans come and go with the plan cache.
_CACHE_SIZE = 1024
_aliased: dict[tuple[Fetch, int], str] = {}


@dataclass(slots=True)
class _Call:
    """One ``_entities`` call: the context values its entities share, their representations and owners."""

    values: dict[str, Any]
    representations: list[dict[str, Any]] = field(default_factory=list)
    owners: list[list[dict[str, Any]]] = field(default_factory=list)
    index_of: dict[Any, int] = field(default_factory=dict)


async def contextual_fetch(executor: Executor, flatten: Flatten, run: _Run) -> None:
    fetch = flatten.node
    located: list[tuple[dict[str, Any], tuple[Any, ...]]] = []
    for path in flatten.paths:
        with_ancestors(run.data, path, located)
    keyed = executor.representations.keyed(fetch)
    calls: dict[bytes, _Call] = {}
    seen: set[tuple[int, bytes]] = set()
    for entity, chain in located:
        representation, key = keyed(entity)
        if representation is None:
            continue
        values = {r.variable: context_value(chain, r) for r in fetch.context_rewrites}
        values_key = orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
        if (id(entity), values_key) in seen:  # the same object reached twice: one owner
            continue
        seen.add((id(entity), values_key))
        call = calls.get(values_key)
        if call is None:
            call = calls[values_key] = _Call(values)
        index = call.index_of.get(key)
        if index is None:
            call.index_of[key] = len(call.representations)
            call.representations.append(representation)
            call.owners.append([entity])
        else:
            call.owners[index].append(entity)
    if not calls:
        return
    ordered = list(calls.values())
    if len(ordered) == 1:
        payload = await executor._send(
            fetch, run, {"representations": ordered[0].representations, **ordered[0].values}
        )
        results = [_entities(payload, "_entities")]
    else:
        variables: dict[str, Any] = {}
        for i, call in enumerate(ordered):
            variables[f"representations_{i}"] = call.representations
            variables.update((f"{name}_{i}", value) for name, value in call.values.items())
        operation = _aliased_operation(fetch, len(ordered))
        payload = await executor._send(replace(fetch, operation=operation), run, variables)
        results = [_entities(payload, f"_{i}") for i in range(len(ordered))]
    if payload is None:
        return
    owners: list[list[dict[str, Any]]] = []
    offsets: dict[str, int] = {}
    for i, (call, entities) in enumerate(zip(ordered, results, strict=True)):
        offsets["_entities" if len(ordered) == 1 else f"_{i}"] = len(owners)
        owners.extend(call.owners)
        if not isinstance(entities, list):
            continue
        if fetch.renames:
            rename_aliased(entities, fetch.selection)
        for index, result in enumerate(entities[: len(call.owners)]):
            if type(result) is dict:
                for entity in call.owners[index]:
                    executor._merge(entity, result)
    errors = payload.get("errors")
    if errors:
        executor._entity_errors(flatten, run, [_renumbered(e, offsets) for e in errors], owners)


def _entities(payload: dict[str, Any] | None, key: str) -> Any:
    data = payload.get("data") if payload is not None else None
    return data.get(key) if isinstance(data, dict) else None


def _renumbered(error: Any, offsets: dict[str, int]) -> Any:
    """An error of an aliased call as if of one ``_entities`` over every call's representations in turn."""
    path = error.get("path") if isinstance(error, dict) else None
    if isinstance(path, list) and len(path) >= 2 and path[0] in offsets and type(path[1]) is int:
        return {**error, "path": ["_entities", offsets[path[0]] + path[1], *path[2:]]}
    return error


def _aliased_operation(fetch: Fetch, count: int) -> str:
    """``fetch``'s operation with an aliased ``_entities`` call per value set, each with its own variables."""
    cached = _aliased.get((fetch, count))
    if cached is not None:
        return cached
    head, found, body = fetch.operation.partition(_ENTITIES)
    assert found and head.startswith("query(") and head.endswith(")"), fetch.operation
    contextual = {r.variable: r.type for r in fetch.context_rewrites}
    shared = [
        d
        for d in head[len("query(") : -1].split(",$")
        if d.lstrip("$") != _REPRESENTATIONS[1:] and d.lstrip("$").split(":")[0] not in contextual
    ]
    selection = body[:-1]  # without the operation's closing brace
    pattern = re.compile(r"\$(" + "|".join(map(re.escape, contextual)) + r")(?![A-Za-z0-9_])")
    definitions = ["$" + d.lstrip("$") for d in shared]
    calls = []
    for i in range(count):
        definitions.append(f"$representations_{i}:[_Any!]!")
        definitions.extend(f"${name}_{i}:{type_}" for name, type_ in contextual.items())
        renamed = pattern.sub(lambda m, i=i: f"${m.group(1)}_{i}", selection)
        calls.append(f"_{i}:_entities(representations:$representations_{i}){renamed}")
    operation = "query(" + ",".join(definitions) + "){" + " ".join(calls) + "}"
    if len(_aliased) >= _CACHE_SIZE:
        _aliased.clear()
    _aliased[(fetch, count)] = operation
    return operation


def with_ancestors(
    root: Any, path: tuple[str, ...], out: list[tuple[dict[str, Any], tuple[Any, ...]]]
) -> None:
    """The objects at ``path`` (as router/execution/paths.py finds them), each with the objects it is under,
    one for each response key of the path (the root first, the object itself last)."""
    level: list[tuple[Any, tuple[Any, ...]]] = [(root, (root,))]
    for key in path:
        below: list[tuple[Any, tuple[Any, ...]]] = []
        for value, chain in level:
            if key == "@":
                if type(value) is list:
                    below.extend((item, (*chain[:-1], item)) for item in value)
            elif type(value) is dict:
                child = value.get(key)
                if child is not None:
                    below.append((child, (*chain, child)))
            elif type(value) is list:  # a list where an object was expected: its items, at this key
                for item in _flat(value):
                    child = item.get(key) if type(item) is dict else None
                    if child is not None:
                        below.append((child, (*chain[:-1], item, child)))
        level = below
    for value, chain in level:
        if type(value) is dict:
            out.append((value, chain))
        elif type(value) is list:
            out.extend((item, (*chain[:-1], item)) for item in _flat(value) if type(item) is dict)


def _flat(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if type(item) is list:
            out.extend(_flat(item))
        else:
            out.append(item)
    return out


def context_value(chain: tuple[Any, ...], rewrite: ContextRewrite) -> Any:
    """The value of ``rewrite``'s variable for the entity that ``chain`` ends with; None when the object
    setting the context is not there or has no such value."""
    if rewrite.levels >= len(chain):
        return None
    holder = chain[-1 - rewrite.levels]
    if type(holder) is not dict:
        return None
    typename = holder.get("__typename")
    if typename is not None and typename not in rewrite.types:
        return None
    for types, keys in rewrite.paths:
        if types is not None and typename not in types:
            continue
        return _follow(holder, keys)
    return None


def _follow(value: Any, keys: tuple[str, ...]) -> Any:
    for i, key in enumerate(keys):
        if type(value) is list:
            return [_follow(item, keys[i:]) for item in value]
        if type(value) is not dict:
            return None
        value = value.get(key)
    return value
