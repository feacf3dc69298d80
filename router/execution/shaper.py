"""Shapes a request's merged data into the client's response: the client's field order, aliases,
``__typename``, @skip/@include, enum values and null-bubbling, following steps compiled once per operation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.planner.operation import Field, Fragment, Selection
from router.supergraph.model import Supergraph

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
