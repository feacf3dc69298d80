"""Keeps a subgraph operation valid: fields that share a response key across type conditions but
have different types in that subgraph (``id: ID`` on one type, ``id: ID!`` on another) cannot sit
side by side, so all but the first get an alias and are renamed back in the subgraph's answer."""

from __future__ import annotations

from typing import Any

from router.planner.selections import OutField, OutFragment, SelectionSet
from router.supergraph.model import Supergraph

_TYPENAME_TYPE = "String!"


def alias_type_conflicts(
    selection: SelectionSet, parent_type: str, graph: str, supergraph: Supergraph
) -> bool:
    """Aliases conflicting fields in place; whether any was aliased (the answer then needs renaming)."""
    return _level(supergraph, graph, [(selection, parent_type)])


def _level(supergraph: Supergraph, graph: str, sets: list[tuple[SelectionSet, str]]) -> bool:
    # response key -> [(field, parent type, subgraph type)], across nested inline fragments
    by_key: dict[str, list[tuple[OutField, str, str]]] = {}
    stack = list(sets)
    while stack:
        selection, parent = stack.pop(0)
        for item in selection.items.values():
            if isinstance(item, OutFragment):
                stack.append((item.sub, item.type_condition or parent))
                continue
            if item.rename is not None:
                return True  # aliased before (this group was built already)
            by_key.setdefault(item.response_key, []).append(
                (item, parent, _type_in(supergraph, graph, parent, item))
            )
    renamed = False
    taken = set(by_key)
    groups: dict[str, list[tuple[OutField, str]]] = {}
    for key, fields in by_key.items():
        first_type = fields[0][2]
        variants: dict[str, str] = {first_type: key}
        for field, parent, type_ref in fields:
            target = variants.get(type_ref)
            if target is None:
                target = _fresh(key, taken)
                variants[type_ref] = target
            if target != key:
                field.rename = key
                field.alias = target
                renamed = True
            groups.setdefault(target, []).append((field, parent))
    # Fields that answer under the same key merge their selections: check those together.
    for fields in groups.values():
        subs = [(f.sub, _named(supergraph, parent, f)) for f, parent in fields if f.sub is not None]
        if subs and _level(supergraph, graph, subs):
            renamed = True
    return renamed


def _fresh(key: str, taken: set[str]) -> str:
    n = 0
    while f"{key}__alias_{n}" in taken:
        n += 1
    name = f"{key}__alias_{n}"
    taken.add(name)
    return name


def _type_in(supergraph: Supergraph, graph: str, parent: str, field: OutField) -> str:
    if field.name == "__typename":
        return _TYPENAME_TYPE
    info = supergraph.field(parent, field.name)
    if info is None:
        return ""
    join = info.join_for(graph)
    type_ref = join.type if join is not None and join.type else info.type
    named = supergraph.types.get(info.named_type)
    if named is not None and named.kind in ("object", "interface", "union"):
        # Composite fields conflict only through their subfields, checked one level down.
        return type_ref.replace(info.named_type, "*")
    return type_ref


def _named(supergraph: Supergraph, parent: str, field: OutField) -> str:
    info = supergraph.field(parent, field.name)
    return info.named_type if info is not None else parent


def rename_aliased(value: Any, selection: SelectionSet) -> None:
    """Moves the answers of aliased fields back under the key the planner meant."""
    if isinstance(value, list):
        for item in value:
            rename_aliased(item, selection)
        return
    if not isinstance(value, dict):
        return
    for item in selection.items.values():
        if isinstance(item, OutFragment):
            rename_aliased(value, item.sub)
            continue
        key = item.response_key
        if key not in value:
            continue
        if item.sub is not None:
            rename_aliased(value[key], item.sub)
        if item.rename is not None:
            value[item.rename] = value.pop(key)
