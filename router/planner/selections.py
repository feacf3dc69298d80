"""The selection sets the planner writes into subgraph operations, and field sets (@key,
@requires, @provides) read into the same shape."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from graphql import FieldNode, InlineFragmentNode, SelectionSetNode, parse, print_ast


@dataclass(slots=True)
class OutField:
    name: str
    alias: str | None = None
    arguments: str = ""
    directives: str = ""
    sub: SelectionSet | None = None
    # Set when the planner aliased the field to keep the operation valid: the key it answers under.
    rename: str | None = None

    @property
    def response_key(self) -> str:
        return self.alias or self.name


@dataclass(slots=True)
class OutFragment:
    type_condition: str | None
    directives: str = ""
    sub: SelectionSet = field(default_factory=lambda: SelectionSet())


@dataclass(slots=True)
class SelectionSet:
    """An ordered selection set; adding a field or fragment that is already there returns the existing one."""

    items: dict[tuple, OutField | OutFragment] = field(default_factory=dict)

    def add_field(
        self,
        name: str,
        alias: str | None = None,
        arguments: str = "",
        directives: str = "",
        composite: bool = False,
    ) -> OutField:
        key = ("f", alias or name, name, arguments, directives)
        existing = self.items.get(key)
        if existing is None:
            existing = self.items[key] = OutField(name, alias, arguments, directives)
        assert isinstance(existing, OutField)
        if composite and existing.sub is None:
            existing.sub = SelectionSet()
        return existing

    def add_fragment(self, type_condition: str | None, directives: str = "") -> SelectionSet:
        key = ("i", type_condition, directives)
        existing = self.items.get(key)
        if existing is None:
            existing = self.items[key] = OutFragment(type_condition, directives)
        assert isinstance(existing, OutFragment)
        return existing.sub

    def add_typename(self) -> None:
        self.add_field("__typename")

    def merge(self, other: SelectionSet) -> None:
        for item in other.items.values():
            if isinstance(item, OutField):
                target = self.add_field(
                    item.name, item.alias, item.arguments, item.directives, item.sub is not None
                )
                if item.sub is not None and target.sub is not None:
                    target.sub.merge(item.sub)
            else:
                self.add_fragment(item.type_condition, item.directives).merge(item.sub)

    def __bool__(self) -> bool:
        return bool(self.items)

    def print_compact(self) -> str:
        parts = []
        for item in self.items.values():
            if isinstance(item, OutField):
                text = f"{item.alias}:{item.name}" if item.alias else item.name
                text += item.arguments + (item.directives and " " + item.directives)
                if item.sub is not None:
                    text += item.sub.print_compact()
            else:
                if not item.sub:
                    continue  # nothing was planned under this type condition
                text = "..." + (f"on {item.type_condition}" if item.type_condition else "")
                text += (" " if item.type_condition and item.directives else "") + item.directives
                text += item.sub.print_compact()
            parts.append(text)
        return "{" + " ".join(parts) + "}"

    def print_lines(self, indent: int) -> list[str]:
        pad = "  " * indent
        lines = []
        for item in self.items.values():
            if isinstance(item, OutField):
                head = f"{item.alias}: {item.name}" if item.alias else item.name
                head += item.arguments + (item.directives and " " + item.directives)
            else:
                if not item.sub:
                    continue
                head = "..." + (f" on {item.type_condition}" if item.type_condition else "")
                head += (" " if item.directives else "") + item.directives
            sub = item.sub
            if sub is None:
                lines.append(pad + head)
            else:
                lines.append(pad + head + " {")
                lines.extend(sub.print_lines(indent + 1))
                lines.append(pad + "}")
        return lines


# A field set as a tree: field -> sub-tree (None for leaves); "... on T" keys for type conditions.
# A field with arguments is keyed by its printed call, e.g. 'price(currency: "USD")'.
FieldSetTree = dict[str, "FieldSetTree | None"]

_FIELD_SET_CACHE: dict[str, FieldSetTree] = {}


def parse_field_set(text: str) -> FieldSetTree:
    cached = _FIELD_SET_CACHE.get(text)
    if cached is None:
        document = parse("{" + text + "}", no_location=True)
        cached = _FIELD_SET_CACHE[text] = _tree(document.definitions[0].selection_set)  # type: ignore[attr-defined]
    return cached


def split_field_key(key: str) -> tuple[str, str]:
    """A field set key's field name and printed arguments ("" without)."""
    index = key.find("(")
    return (key, "") if index < 0 else (key[:index], key[index:])


def internal_alias(name: str, arguments: str) -> str | None:
    """The response key under which the router fetches a field set's field with arguments, so that
    it never collides with the client's own use of the field with other arguments."""
    if not arguments:
        return None
    return f"{name}__{zlib.crc32(arguments.encode()):08x}"


def _tree(selection_set: SelectionSetNode) -> FieldSetTree:
    tree: FieldSetTree = {}
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            sub = _tree(node.selection_set) if node.selection_set else None
            key = node.name.value
            if node.arguments:
                key += "(" + ", ".join(f"{a.name.value}: {print_ast(a.value)}" for a in node.arguments) + ")"
            tree[key] = sub
        elif isinstance(node, InlineFragmentNode):
            key = f"... on {node.type_condition.name.value}" if node.type_condition else "..."
            tree[key] = _tree(node.selection_set)
    return tree


def merge_trees(a: FieldSetTree | None, b: FieldSetTree | None) -> FieldSetTree | None:
    if a is None:
        return b
    if b is None:
        return a
    merged: FieldSetTree = dict(a)
    for key, sub in b.items():
        merged[key] = merge_trees(merged.get(key), sub) if key in merged else sub
    return merged


def covers(known: FieldSetTree | None, tree: FieldSetTree) -> bool:
    """Whether every field of ``tree`` is in ``known``."""
    if known is None:
        return False
    for key, sub in tree.items():
        if key == "__typename":
            continue
        if key not in known:
            return False
        if sub is not None and not covers(known[key], sub):
            return False
    return True


def tree_conflicts(existing: SelectionSet, tree: FieldSetTree) -> bool:
    """Whether ``tree`` names a field that ``existing`` already has with other arguments."""
    for key, sub in tree.items():
        if key.startswith("..."):
            condition = key[len("... on ") :] if key.startswith("... on ") else None
            inner = existing.items.get(("i", condition, ""))
            if isinstance(inner, OutFragment) and tree_conflicts(inner.sub, sub or {}):
                return True
            continue
        name, arguments = split_field_key(key)
        for item in existing.items.values():
            if not isinstance(item, OutField) or item.name != name:
                continue
            if item.arguments != arguments:
                return True
            if sub and item.sub is not None and tree_conflicts(item.sub, sub):
                return True
    return False


def tree_into(out: SelectionSet, tree: FieldSetTree) -> None:
    for key, sub in tree.items():
        if key.startswith("..."):
            condition = key[len("... on ") :] if key.startswith("... on ") else None
            tree_into(out.add_fragment(condition), sub or {})
        else:
            name, arguments = split_field_key(key)
            alias = internal_alias(name, arguments)
            field = out.add_field(name, alias, arguments, composite=sub is not None)
            if sub is None:
                continue
            assert field.sub is not None
            tree_into(field.sub, sub)
