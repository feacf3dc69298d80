"""Entity representations: what an `_entities` fetch sends for each entity the merged tree holds (its key or
@requires fields, its `__typename`), and the key that deduplicates equal representations. Compiled once per
fetch into a small function: IDs as strings, the usual key, take the fast way."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from router.planner.nodes import Fetch
from router.planner.selections import OutField, SelectionSet
from router.supergraph.model import Supergraph

# entity -> (its representation, or None when it has none; the representation's deduplication key)
Keyed = Callable[[dict[str, Any]], tuple[dict[str, Any] | None, Any]]
# the entities of a fetch (in document order) -> (the distinct representations, the owners of each)
Grouped = Callable[[list[dict[str, Any]]], tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]]
_MISSING: Any = object()  # an entity without a key field (None is a value)
# Compiled builders kept per fetch (bounded: plans come and go with the plan cache).
_CACHE_SIZE = 4096


class Representations:
    def __init__(self, supergraph: Supergraph) -> None:
        self.supergraph = supergraph
        self._keyers: dict[Fetch, Keyed] = {}
        self._groupers: dict[Fetch, Grouped] = {}

    def grouped(self, fetch: Fetch) -> Grouped:
        """`entities -> (representations, owners)` for `fetch`, made once per fetch: each distinct
        representation once, with the entities (each object once) it stands for."""
        grouped = self._groupers.get(fetch)
        if grouped is None:
            if len(self._groupers) >= _CACHE_SIZE:
                self._groupers.clear()
            grouped = self._groupers[fetch] = self._compile_grouped(fetch)
        return grouped

    def _compile_grouped(self, fetch: Fetch) -> Grouped:
        """The usual case (one type condition, one flat key field: `{__typename id}`) in one loop that builds
        a representation only for the first entity of each key; any other through `keyed`. The gateways
        benchmark reaches ~270 entities a request for ~25 distinct representations: building each entity's
        representation dict to throw most away was a tenth of the router's CPU."""
        single = self._single_key(fetch)
        if single is None:
            return partial(_group_general, keyed=self.keyed(fetch))
        matches, keys, names, renamed = single
        if len(keys) == 1:
            return partial(_group_flat_one, matches=matches, key=keys[0], name=names[0], renamed=renamed)
        return partial(_group_flat, matches=matches, keys=keys, names=names, renamed=renamed)

    def _single_key(
        self, fetch: Fetch
    ) -> tuple[frozenset[str] | None, tuple[str, ...], tuple[str, ...], dict[str, str]] | None:
        """(the typenames it applies to, None: any; the response keys of its flat fields; the fields' names;
        typename -> the name it is sent under) when `fetch`'s representations are one type condition with
        flat fields only; else None."""
        assert fetch.requires is not None
        cases = [item for item in fetch.requires.items.values() if not isinstance(item, OutField)]
        if len(cases) != 1:
            return None
        fields = []
        for sub in cases[0].sub.items.values():
            if not isinstance(sub, OutField) or sub.sub is not None:
                return None
            if sub.name != "__typename":
                fields.append(sub)
        if not fields:
            return None
        condition = cases[0].type_condition
        matches = None
        renamed: dict[str, str] = {}
        if condition is not None:
            matches = self.supergraph.runtime_types(condition) | {condition}
            if condition in fetch.interface_objects:
                renamed = {typename: fetch.interface_objects[condition] for typename in matches}
        keys = tuple(field.alias or field.name for field in fields)
        return matches, keys, tuple(field.name for field in fields), renamed

    def keyed(self, fetch: Fetch) -> Keyed:
        """`entity -> (representation or None, its deduplication key)` for `fetch`, made once per fetch."""
        keyed = self._keyers.get(fetch)
        if keyed is None:
            if len(self._keyers) >= _CACHE_SIZE:
                self._keyers.clear()  # plans evicted from the gateway's cache must not stay alive here
            keyed = self._keyers[fetch] = self._compile(fetch)
        return keyed

    def _compile(self, fetch: Fetch) -> Keyed:
        assert fetch.requires is not None
        # (type condition, the types it matches, (response key, representation name) of each flat field).
        cases: list[tuple[str | None, frozenset[str], tuple[tuple[str, str], ...]]] = []
        for item in fetch.requires.items.values():
            if isinstance(item, OutField):
                continue
            condition = item.type_condition
            fields: list[tuple[str, str]] = []
            for sub in item.sub.items.values():
                if not isinstance(sub, OutField) or sub.sub is not None:
                    # nested (a compound key, @requires of an object): the general way
                    return partial(self._keyed_general, fetch)
                if sub.name != "__typename":
                    fields.append((sub.alias or sub.name, sub.name))
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
                    if condition is not None:
                        typename = renamed.get(condition, typename)
                    representation["__typename"] = typename
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
                if condition is not None:
                    typename = fetch.interface_objects.get(condition, typename)
                representation["__typename"] = typename
                return representation
        return None


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


# The grouping loops (router/execution/compiled.py compiles this module): module functions with typed locals,
# which the compiler turns into direct dict and list calls.


def _group_general(
    found: list[dict[str, Any]], keyed: Keyed
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    representations: list[dict[str, Any]] = []
    owners: list[list[dict[str, Any]]] = []
    index_of: dict[Any, int] = {}
    seen: set[int] = set()
    for entity in found:
        # The merged tree shares objects: one reached twice is one owner.
        ident = id(entity)
        if ident in seen:
            continue
        seen.add(ident)
        representation, key = keyed(entity)
        if representation is None:
            continue
        index = index_of.get(key)
        if index is None:
            index_of[key] = len(representations)
            representations.append(representation)
            owners.append([entity])
        else:
            owners[index].append(entity)
    return representations, owners


def _group_flat_one(
    found: list[dict[str, Any]],
    matches: frozenset[str] | None,
    key: str,
    name: str,
    renamed: dict[str, str],
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """`_group_flat` for the usual key, one field (`{__typename id}`)."""
    representations: list[dict[str, Any]] = []
    owners: list[list[dict[str, Any]]] = []
    index_of: dict[Any, int] = {}
    seen: set[int] = set()
    for entity in found:
        ident = id(entity)
        if ident in seen:
            continue
        seen.add(ident)
        typename = entity.get("__typename")
        if typename is None or (matches is not None and typename not in matches):
            continue
        value = entity.get(key, _MISSING)
        if value is _MISSING:
            continue
        if renamed:
            typename = renamed.get(typename, typename)
        kind = type(value)
        representation: dict[str, Any]
        if kind is str or kind is int:
            # Strings and ints (never equal to each other): a tuple is a cheaper key than JSON.
            group: Any = (typename, value)
            index = index_of.get(group)
            if index is not None:
                owners[index].append(entity)
                continue
            representation = {name: value, "__typename": typename}
        else:
            representation = {name: value, "__typename": typename}
            group = orjson.dumps(representation, option=orjson.OPT_SORT_KEYS)
            index = index_of.get(group)
            if index is not None:
                owners[index].append(entity)
                continue
        index_of[group] = len(representations)
        representations.append(representation)
        owners.append([entity])
    return representations, owners


def _group_flat(
    found: list[dict[str, Any]],
    matches: frozenset[str] | None,
    keys: tuple[str, ...],
    names: tuple[str, ...],
    renamed: dict[str, str],
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Each distinct representation once (one type condition, flat fields only), with the entities (each
    object once) it stands for; a representation is built only for the first entity of its key."""
    representations: list[dict[str, Any]] = []
    owners: list[list[dict[str, Any]]] = []
    index_of: dict[Any, int] = {}
    seen: set[int] = set()
    width = len(keys) + 1
    for entity in found:
        ident = id(entity)
        if ident in seen:
            continue
        seen.add(ident)
        typename = entity.get("__typename")
        if typename is None or (matches is not None and typename not in matches):
            continue
        if renamed:
            typename = renamed.get(typename, typename)
        values: list[Any] = [typename]
        plain = True
        for key in keys:
            value = entity.get(key, _MISSING)
            if value is _MISSING:
                break
            kind = type(value)
            if kind is not str and kind is not int:
                plain = False
            values.append(value)
        if len(values) != width:
            continue
        representation: dict[str, Any]
        if plain:
            group: Any = tuple(values)
            index = index_of.get(group)
            if index is not None:
                owners[index].append(entity)
                continue
            representation = dict(zip(names, values[1:], strict=True))
            representation["__typename"] = typename
        else:
            representation = dict(zip(names, values[1:], strict=True))
            representation["__typename"] = typename
            group = orjson.dumps(representation, option=orjson.OPT_SORT_KEYS)
            index = index_of.get(group)
            if index is not None:
                owners[index].append(entity)
                continue
        index_of[group] = len(representations)
        representations.append(representation)
        owners.append([entity])
    return representations, owners
