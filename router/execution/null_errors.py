"""The errors of null-bubbling: a null where the schema promises none (a non-null field, or an item of a
list of non-null items) must come with an error naming where (GraphQL spec, "Handling Execution Errors"), or
the client gets `{"data": null}` and nothing to say why. A subgraph's or a fetch's own error usually says it
already; an answer that left out a field it was asked for, or gave null for a non-null one, says nothing, and
then this does, as Apollo Router does: "Cannot return null for non-nullable field Query.orders." at that path.

The shaper (router/execution/shaper.py) only notes that a null bubbled, on its fast path, and calls this
then: it walks the merged data again, with paths; a rare answer pays for it, every other one does not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from router.planner.operation import Field, Fragment, Selection, conditions_hold

if TYPE_CHECKING:
    from router.execution.shaper import Shaper

RESPONSE_VALIDATION_FAILED = "RESPONSE_VALIDATION_FAILED"
# More than this many nulls in one answer are one error each up to here (a list of 10,000 broken items is not
# 10,000 errors).
MAX_NULL_ERRORS = 50

Path = list[str | int]


def null_errors(
    shaper: Shaper,
    selections: list[Selection],
    data: Mapping[str, Any],
    root_type: str,
    variables: Mapping[str, Any],
    known: Sequence[Mapping[str, Any]],
    at: Sequence[str | int] = (),
) -> list[dict[str, Any]]:
    """An error for each null in a non-null position of `data` under `selections` that none of the `known`
    errors accounts for (one at, above or below its path; an error without a path, a fetch that failed
    whole, accounts for every null). `at`: where `data` is in the response (a deferred fragment's object)."""
    known_paths = []
    for error in known:
        path = error.get("path")
        if not path:
            return []
        known_paths.append(list(path))
    found: list[tuple[Path, str]] = []
    _walk(shaper, selections, data, root_type, variables, list(at), found)
    errors = []
    for path, field in found:
        if any(_related(path, other) for other in known_paths):
            continue
        errors.append(
            {
                "message": f"Cannot return null for non-nullable field {field}.",
                "path": path,
                "extensions": {"code": RESPONSE_VALIDATION_FAILED},
            }
        )
    return errors


def _related(path: Path, other: Path) -> bool:
    shorter = min(len(path), len(other))
    return path[:shorter] == other[:shorter]


def _walk(
    shaper: Shaper,
    selections: list[Selection],
    value: Mapping[str, Any],
    type_name: str,
    variables: Mapping[str, Any],
    path: Path,
    found: list[tuple[Path, str]],
) -> None:
    runtime = value.get("__typename")
    if runtime not in shaper.object_types:  # as the shaper decides it
        runtime = type_name if type_name in shaper.object_types else runtime
    for selection in selections:
        if len(found) >= MAX_NULL_ERRORS or not conditions_hold(selection.conditions, variables):
            continue
        if isinstance(selection, Fragment):
            condition = selection.type_condition
            if (
                condition is None
                or condition == type_name
                or runtime in shaper.supergraph.runtime_types(condition) | {condition}
            ):
                _walk(shaper, selection.selections, value, type_name, variables, path, found)
        elif selection.name != "__typename":
            key = selection.response_key
            _value(shaper, selection, value.get(key), 0, variables, [*path, key], found)


def _value(
    shaper: Shaper,
    field: Field,
    raw: Any,
    index: int,
    variables: Mapping[str, Any],
    path: Path,
    found: list[tuple[Path, str]],
) -> None:
    wrappers = field.wrappers
    non_null = index < len(wrappers) and wrappers[index] == "!"
    if non_null:
        index += 1
    is_list = index < len(wrappers) and wrappers[index] == "["
    if raw is None or (is_list and type(raw) is not list) or (not is_list and _null_leaf(shaper, field, raw)):
        if non_null:
            found.append((path, f"{field.parent_type}.{field.name}"))
        return
    if is_list:
        for at, item in enumerate(raw):
            _value(shaper, field, item, index + 1, variables, [*path, at], found)
    elif field.selections is not None:
        _walk(shaper, field.selections, raw, field.type_name, variables, path, found)


def _null_leaf(shaper: Shaper, field: Field, raw: Any) -> bool:
    """Whether the shaper answers a (non-list) value as null: an object that is not one or is of a hidden
    type, an enum value the API does not have."""
    if field.selections is not None:
        hidden = shaper.hidden_types
        return type(raw) is not dict or (bool(hidden) and raw.get("__typename") in hidden)
    values = shaper.enum_values.get(field.type_name)
    return values is not None and raw not in values
