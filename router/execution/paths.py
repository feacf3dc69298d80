"""Walking the merged response tree: the objects at a plan path (`@` steps into a list) in document order,
with or without their response paths."""

from __future__ import annotations

from typing import Any


def collect(
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
                collect(item, path, i, [*current, j], out)
        return
    key = path[i]
    if key == "@":
        if isinstance(value, list):
            for j, item in enumerate(value):
                collect(item, path, i + 1, [*current, j], out)
    elif isinstance(value, dict):
        collect(value.get(key), path, i + 1, [*current, key], out)
    elif isinstance(value, list):
        for j, item in enumerate(value):
            collect(item, path, i, [*current, j], out)


def entities_at(root: Any, path: tuple[str, ...], out: list[dict[str, Any]]) -> None:
    """The objects at `path` (`@` steps into a list) in document order, appended to `out`: `collect` without
    the response paths, one level at a time. (Typed locals: router/execution/compiled.py compiles this
    module, and a local known to be a dict or a list is read with direct calls.)"""
    level: list[Any] = [root]
    for key in path:
        below: list[Any] = []
        if key == "@":
            for value in level:
                if type(value) is list:
                    below.extend(value)
        else:
            for value in level:
                if type(value) is dict:
                    parent: dict[str, Any] = value
                    child = parent.get(key)
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
                parent: dict[str, Any] = item
                child = parent.get(key)
                if child is not None:
                    out.append(child)
