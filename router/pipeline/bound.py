"""Stage: bound the work before it is done. The selection depth and the number of aliases, checked before
validation (the token cap is the parser's): cheap walks over the document that count what fragments expand
to without expanding them, so a hostile query costs little."""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from router.pipeline.errors import MAX_ALIASES_EXCEEDED, MAX_DEPTH_EXCEEDED, error


def bound_work(document: DocumentNode, max_depth: int, max_aliases: int) -> list[dict[str, Any]]:
    """The errors of each limit `document` is over (none: it may be validated)."""
    errors: list[dict[str, Any]] = []
    depth = operation_depth(document)
    if depth > max_depth:
        errors.append(error(f"query depth {depth} exceeds the limit of {max_depth}", MAX_DEPTH_EXCEEDED))
    aliases = alias_count(document)
    if aliases > max_aliases:
        errors.append(error(f"{aliases} aliases exceed the limit of {max_aliases}", MAX_ALIASES_EXCEEDED))
    return errors


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def operation_depth(document: DocumentNode) -> int:
    """The deepest field nesting of any operation, fragments expanded (a fragment cycle counts once)."""
    fragments = _fragments(document)
    memo: dict[str, int] = {}

    def depth(selection_set: SelectionSetNode | None, visiting: frozenset[str]) -> int:
        if selection_set is None:
            return 0
        deepest = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                deepest = max(deepest, 1 + depth(node.selection_set, visiting))
            elif isinstance(node, InlineFragmentNode):
                deepest = max(deepest, depth(node.selection_set, visiting))
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in visiting or name not in fragments:
                    continue
                if name not in memo:
                    memo[name] = depth(fragments[name].selection_set, visiting | {name})
                deepest = max(deepest, memo[name])
        return deepest

    return max(
        (
            depth(d.selection_set, frozenset())
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        ),
        default=0,
    )


def alias_count(document: DocumentNode) -> int:
    """Aliases written in the document (operations and fragments alike)."""
    count = 0
    stack: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, (OperationDefinitionNode, FragmentDefinitionNode))
    ]
    while stack:
        selection_set = stack.pop()
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                if node.alias is not None:
                    count += 1
                if node.selection_set is not None:
                    stack.append(node.selection_set)
            elif isinstance(node, InlineFragmentNode):
                stack.append(node.selection_set)
    return count
