"""What a query asks for below the field being resolved, for resolvers that read ahead (a page that also reads
its orders' lines, a count only when asked)."""

from __future__ import annotations

from operator import is_
from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.types import Info


def selects(info: Info, *path: str) -> bool:
    """Whether the query asks, under the current field, for the field at `path` (the names of nested fields,
    e.g. `"totalCount"` or `"edges", "node", "items"`), through fragments too.

    Read from graphql-core's nodes: Strawberry's `info.selected_fields` converts the field's whole selection
    into objects of its own on each call (3% of a search request's profile). Kept per parsed field: the parse
    cache (`shared.graphql_lifecycle.Documents`) hands the same nodes for the same operation, and the answer
    depends on nothing else (its fragments are the same document's)."""
    raw = info._raw_info
    # Every node of the field: which are merged into it can depend on the variables (`@include(if: $x)`).
    nodes = tuple(raw.field_nodes)
    key = (tuple(map(id, nodes)), path)
    known = _ASKED.get(key)
    if known is not None and all(map(is_, known[0], nodes)):
        return known[1]
    asked = _asks(raw, path)
    if len(_ASKED) >= _KEPT:
        _ASKED.clear()
    _ASKED[key] = (nodes, asked)  # the nodes kept alive with their answer: their ids stay their own
    return asked


_KEPT = 10_000
_ASKED: dict[tuple[tuple[int, ...], tuple[str, ...]], tuple[tuple[FieldNode, ...], bool]] = {}


def _asks(raw: Any, path: tuple[str, ...]) -> bool:
    fragments: dict[str, Any] = raw.fragments

    def asks(selection_set: SelectionSetNode | None, path: tuple[str, ...]) -> bool:
        if selection_set is None:
            return False
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value == path[0] and (
                    len(path) == 1 or asks(selection.selection_set, path[1:])
                ):
                    return True
            elif isinstance(selection, InlineFragmentNode):
                if asks(selection.selection_set, path):
                    return True
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None and asks(fragment.selection_set, path):
                    return True
        return False

    return any(asks(node.selection_set, path) for node in raw.field_nodes)
