"""What a query asks for below the field being resolved, for resolvers that read ahead (a page that also reads
its orders' lines, a count only when asked)."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField


def selects(info: Info, *path: str) -> bool:
    """Whether the query asks, under the current field, for the field at `path` (the names of nested fields,
    e.g. `"totalCount"` or `"edges", "node", "items"`), through fragments too."""

    def asks(selections: list[Any], path: tuple[str, ...]) -> bool:
        for selection in selections:
            if isinstance(selection, FragmentSpread | InlineFragment):
                if asks(selection.selections, path):
                    return True
            elif isinstance(selection, SelectedField) and selection.name == path[0]:
                if len(path) == 1 or asks(selection.selections, path[1:]):
                    return True
        return False

    return any(asks(field.selections, path) for field in info.selected_fields)
