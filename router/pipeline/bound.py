"""Stage: bound the work before it is done, after parsing and before validation (the token cap is the
parser's). What an operation expands to (Apollo Router's operation limits: depth, height, root fields,
aliases) is counted without expanding it: each fragment is summarized once and its counts are multiplied by
the times it is spread, so a 0.7 KB fragment bomb of 2^30 fields costs as little as it reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from router.pipeline.errors import (
    MAX_ALIASES_EXCEEDED,
    MAX_DEPTH_EXCEEDED,
    MAX_FIELD_MERGES_EXCEEDED,
    MAX_HEIGHT_EXCEEDED,
    MAX_ROOT_FIELDS_EXCEEDED,
    error,
)

if TYPE_CHECKING:
    from router.pipeline.document import RouterLimits

# Counts saturate here: a bomb's 2^7000 fields need no bigint arithmetic, nor a 2,000-digit message.
SATURATED = 1 << 53


@dataclass(frozen=True, slots=True)
class Work:
    """What the largest operation of a document expands to; each count is the largest over its operations.

    depth: the deepest field nesting. height: the field selections (leaves and composites, `__typename`
    too), every spread of a fragment counted again. root_fields: the selections of root fields (through
    fragments, each spread counted). aliases: the aliased selections, every spread counted again."""

    depth: int = 0
    height: int = 0
    root_fields: int = 0
    aliases: int = 0


def bound_work(document: DocumentNode, limits: RouterLimits) -> list[dict[str, Any]]:
    """The error of the first limit `document` is over (none: it may be validated). One error, not all:
    the client needs one reason, and the order (depth, aliases, root fields, height, merges) names the
    most specific."""
    work = measure_work(document)
    checks = (
        (work.depth, limits.max_depth, "nests fields {} deep", MAX_DEPTH_EXCEEDED),
        (work.aliases, limits.max_aliases, "has {} aliases", MAX_ALIASES_EXCEEDED),
        (work.root_fields, limits.max_root_fields, "selects {} root fields", MAX_ROOT_FIELDS_EXCEEDED),
        (work.height, limits.max_height, "selects {} fields", MAX_HEIGHT_EXCEEDED),
    )
    for count, limit, what, code in checks:
        if count > limit:
            return [_refusal(f"it {what.format(_shown(count))} (fragments expanded)", limit, code)]
    # Only for a document within the limits above: its fragments' heights are then small numbers.
    merges = merge_checks(document)
    if merges > limits.max_field_merges:
        what = f"validating it compares {_shown(merges)} pairs of same-named fields and fragments"
        return [_refusal(what, limits.max_field_merges, MAX_FIELD_MERGES_EXCEEDED)]
    return []


def _shown(count: int) -> str:
    return f"more than {SATURATED}" if count >= SATURATED else str(count)


def _refusal(what: str, limit: int, code: str) -> dict[str, Any]:
    return error(f"the operation is refused: {what}, over the limit of {limit}", code)


@dataclass(slots=True)
class _Summary:
    """One definition's own counts, and the fragments it spreads (name, the field depth it spreads them at,
    whether at its top level, how many times): a fragment's totals are these plus its spreads' totals."""

    fields: int = 0
    aliases: int = 0
    top_fields: int = 0
    depth: int = 0
    spreads: dict[tuple[str, int, bool], int] = field(default_factory=dict)


def measure_work(document: DocumentNode) -> Work:
    """The document's Work, in time linear in its size whatever its fragments expand to."""
    totals = _fragment_totals(_fragment_summaries(document))
    depth = height = root_fields = aliases = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        work = _total(_summarize(definition.selection_set), totals)
        depth = max(depth, work.depth)
        height = max(height, work.height)
        root_fields = max(root_fields, work.root_fields)
        aliases = max(aliases, work.aliases)
    return Work(depth, height, root_fields, aliases)


def _fragment_summaries(document: DocumentNode) -> dict[str, _Summary]:
    summaries: dict[str, _Summary] = {}
    for definition in document.definitions:
        # A repeated fragment name is a validation error; the first one is the one measured.
        if isinstance(definition, FragmentDefinitionNode) and definition.name.value not in summaries:
            summaries[definition.name.value] = _summarize(definition.selection_set)
    return summaries


def _summarize(selection_set: SelectionSetNode) -> _Summary:
    """One definition's own counts, walked with a stack (no recursion: nesting is the parser's to cap)."""
    summary = _Summary()
    # (selection set, the field depth of its selections minus one, whether it is the definition's top level)
    stack: list[tuple[SelectionSetNode, int, bool]] = [(selection_set, 0, True)]
    while stack:
        selections, depth, top = stack.pop()
        for node in selections.selections:
            if isinstance(node, FieldNode):
                summary.fields += 1
                summary.top_fields += top
                summary.aliases += node.alias is not None
                summary.depth = max(summary.depth, depth + 1)
                if node.selection_set is not None:
                    stack.append((node.selection_set, depth + 1, False))
            elif isinstance(node, InlineFragmentNode):
                stack.append((node.selection_set, depth, top))
            elif isinstance(node, FragmentSpreadNode):
                key = (node.name.value, depth, top)
                summary.spreads[key] = summary.spreads.get(key, 0) + 1
    return summary


def _fragment_totals(summaries: dict[str, _Summary]) -> dict[str, Work]:
    """Each fragment's expanded Work (root_fields: its top-level fields), every fragment evaluated once,
    after the fragments it spreads. Iterative, so a chain of 2,000 fragments needs no deep stack; a spread
    that closes a cycle (a validation error, not seen yet) or names no fragment adds nothing."""
    totals: dict[str, Work] = {}
    for start in summaries:
        if start in totals:
            continue
        # Depth-first: a fragment is totalled when all it spreads are.
        open_: set[str] = {start}
        stack: list[tuple[str, list[str]]] = [(start, _spread_names(summaries[start]))]
        while stack:
            name, pending = stack[-1]
            if pending:
                child = pending.pop()
                if child in totals or child in open_ or child not in summaries:
                    continue
                open_.add(child)
                stack.append((child, _spread_names(summaries[child])))
                continue
            stack.pop()
            open_.discard(name)
            totals[name] = _total(summaries[name], totals)
    return totals


def _spread_names(summary: _Summary) -> list[str]:
    return list({name for name, _, _ in summary.spreads})


def _total(summary: _Summary, totals: dict[str, Work]) -> Work:
    """`summary`'s counts plus those of the fragments it spreads (those without totals add nothing)."""
    depth, height, top, aliases = summary.depth, summary.fields, summary.top_fields, summary.aliases
    for (name, at_depth, at_top), times in summary.spreads.items():
        spread = totals.get(name)
        if spread is None:
            continue
        depth = max(depth, at_depth + spread.depth)
        height = min(SATURATED, height + times * spread.height)
        aliases = min(SATURATED, aliases + times * spread.aliases)
        if at_top:
            top = min(SATURATED, top + times * spread.root_fields)
    return Work(depth, height, top, aliases)


def merge_checks(document: DocumentNode) -> int:
    """About how many comparisons graphql-core's OverlappingFieldsCanBeMerged makes on `document`: in every
    selection set (inline fragments merged into it, as that rule collects fields), each pair of fields of
    one response key is compared down their whole subtrees, each pair of distinct fragments spread there
    down the smaller one's fields, and the fields against each fragment. Quadratic: 250 copies of
    `me { id name email }` cost it 0.6 s, 250 fragments `{ id name }` spread side by side 0.3 s, yet the
    height limit lets both through; legitimate operations count a few dozen at most."""
    totals = _fragment_totals(_fragment_summaries(document))
    checks = 0
    for definition in document.definitions:
        if isinstance(definition, (OperationDefinitionNode, FragmentDefinitionNode)):
            checks = min(SATURATED, checks + _merges(definition.selection_set, totals)[1])
    return checks


def _merges(selection_set: SelectionSetNode, totals: dict[str, Work]) -> tuple[int, int]:
    """(the expanded height of `selection_set`, the comparisons to check it and the sets nested in it).
    Recursive on the written nesting only (max_depth has capped it before this runs)."""
    height = checks = fields = 0
    # response key -> the largest subtree height among its fields, and how many fields have it
    keys: dict[str, list[int]] = {}
    spreads: dict[str, int] = {}
    stack = [selection_set]
    while stack:
        for node in stack.pop().selections:
            if isinstance(node, FieldNode):
                sub_height, sub_checks = (0, 0)
                if node.selection_set is not None:
                    sub_height, sub_checks = _merges(node.selection_set, totals)
                checks += sub_checks
                height += 1 + sub_height
                fields += 1
                seen = keys.setdefault((node.alias or node.name).value, [0, 0])
                seen[0] = max(seen[0], sub_height)
                seen[1] += 1
            elif isinstance(node, InlineFragmentNode):
                stack.append(node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                spread = totals.get(node.name.value)
                spread_height = spread.height if spread is not None else 0
                height += spread_height
                spreads[node.name.value] = spread_height
    for largest, times in keys.values():
        checks += times * (times - 1) // 2 * (1 + largest)
    # A pair of fragments is compared down the smaller one: sorted, the i-th is the smaller of the pairs
    # it makes with every one after it.
    ascending = sorted(spreads.values())
    for i, spread_height in enumerate(ascending):
        checks += (len(ascending) - 1 - i) * (1 + spread_height) + fields
    return min(SATURATED, height), min(SATURATED, checks)
