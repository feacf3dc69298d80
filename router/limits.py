"""Operation limits checked before validation: selection depth and number of aliases (the token
cap is the parser's). Cheap walks over the document, so a hostile query costs little."""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


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
