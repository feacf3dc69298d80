"""Federation 2.8's ``@context``/``@fromContext`` in planning. A field with a ``@fromContext`` argument takes
it from the nearest ancestor whose type sets the context: the context's selection is fetched on that ancestor
(in the fetch that has it, or through the jumps it needs), and the field is resolved by an entity fetch that
runs after it, passing the value as a variable the executor finds per entity (a ``ContextRewrite``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from router.planner.fetch_graph import FetchGroup
from router.planner.nodes import ContextRewrite
from router.planner.operation import Field
from router.planner.reachability import PlanningError
from router.planner.selections import (
    FieldSetTree,
    OutFragment,
    SelectionSet,
    internal_alias,
    parse_field_set,
    split_field_key,
    tree_conflicts,
    tree_into,
)
from router.supergraph.model import ContextArgument, Supergraph

if TYPE_CHECKING:
    from router.planner.traversal import Ctx, Traversal


def with_sites(sg: Supergraph, ctx: Ctx, declared: str) -> Ctx:
    """``ctx`` (an object of the field type ``declared``) as the nearest site of the contexts that type, or
    some of its possible object types, sets: for the fields below it."""
    if not sg.context_variables:
        return ctx
    info = sg.types.get(declared)
    if info is None:
        return ctx
    setting: dict[str, frozenset[str]] = {}
    for name in info.contexts:
        setting[name] = sg.runtime_types(declared) | {declared}
    if info.is_abstract:  # a member setting a context sets it where it is the object
        for member in sorted(sg.runtime_types(declared)):
            for name in sg.types[member].contexts:
                setting[name] = setting.get(name, frozenset()) | {member}
    if not setting:
        return ctx
    sites = tuple((name, ctx, types) for name, types in sorted(setting.items()))
    return replace(ctx, contexts=(*(ctx.contexts or ()), *sites))


def _site(ctx: Ctx, context: str) -> tuple[Ctx, frozenset[str]] | None:
    """The nearest ancestor of the object at ``ctx`` that sets ``context`` (the object itself is none), and
    the types it sets the context as."""
    for name, site, types in reversed(ctx.contexts or ()):
        if name == context and site.path != ctx.path:
            return site, types
    return None


def place_contextual(tr: Traversal, ctx: Ctx, field: Field) -> bool:
    """Plans ``field`` when it takes ``@fromContext`` arguments in the subgraph of ``ctx``; False otherwise
    (or when they are bound already: then the field is planned as any other)."""
    graph = ctx.group.graph
    info = tr.sg.field(ctx.type, field.name)
    join = info.join_for(graph) if info is not None else None
    if join is None or not join.context_arguments:
        return False
    variables = [_variable(tr.sg, graph, ctx.type, field.name, a) for a in join.context_arguments]
    if all(
        f"{a.name}: ${v}" in field.arguments for a, v in zip(join.context_arguments, variables, strict=True)
    ):
        return False
    sink: set[FetchGroup] = set()
    sites: list[tuple[ContextArgument, str, Ctx, frozenset[str]]] = []
    for argument, variable in zip(join.context_arguments, variables, strict=True):
        found = _site(ctx, argument.context)
        if found is None:
            raise PlanningError(
                f"{ctx.type}.{field.name}({argument.name}:) takes its value from context "
                f"{argument.context!r}, which no ancestor in the operation sets"
            )
        site, types = found
        tree = _selection(argument)
        if site.type not in types and not all(key.startswith("... on ") for key in tree):
            # Set by some of its object types: only those give the value.
            tree = {f"... on {member}": tree for member in sorted(types)}
        _fetch_value(tr, site, tree, sink)
        sites.append((argument, variable, site, types))
    group = ctx.group
    target = ctx
    if not (
        group.is_entity
        and all(s is not group and group.depends_on(s) for s in sink)
        and all(_is_prefix(site.path, group.path) for _, _, site, _ in sites)
    ):
        target = _entity_fetch(tr, ctx, field, sink)
    bound = []
    for argument, variable, site, types in sites:
        _add_rewrite(tr, target.group, argument, variable, site, types)
        bound.append(f"{argument.name}: ${variable}")
    # The client never gives these arguments (the API schema has none): they follow the client's own.
    arguments = field.arguments[:-1] + ", " if field.arguments else "("
    tr._place_local(target, replace(field, arguments=arguments + ", ".join(bound) + ")"))
    return True


def _variable(sg: Supergraph, graph: str, type_name: str, field: str, argument: ContextArgument) -> str:
    found = sg.context_variables.get((graph, type_name, field, argument.name))
    if found is None:  # the field reached through an interface: the object type names the argument
        found = next(
            (
                v
                for (g, _, f, a), v in sg.context_variables.items()
                if (g, f, a) == (graph, field, argument.name)
            ),
            None,
        )
    if found is None:
        raise PlanningError(
            f"no variable for the @fromContext argument {type_name}.{field}({argument.name}:)"
        )
    return found


def _selection(argument: ContextArgument) -> FieldSetTree:
    text = argument.selection.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return parse_field_set(text)


def _fetch_value(tr: Traversal, site: Ctx, tree: FieldSetTree, sink: set[FetchGroup]) -> None:
    """Adds the context's selection at its site (in the fetch that has the object), jumping to other
    subgraphs for what it cannot resolve; ``sink`` gets every fetch the value comes from."""
    found = {site.group}
    before = _snapshot(site.out)
    (site.level if site.level is not None else site.out).add_typename()
    selections = tr.field_set_selections(site.type, tree)
    tr.visit(replace(site, sink=found, depth=site.depth + 1), selections)
    sink |= found
    _put_first(site.out, before)


def _snapshot(selection: SelectionSet) -> dict[tuple, Any]:
    return {
        key: _snapshot(item.sub) if isinstance(item, OutFragment) else None
        for key, item in selection.items.items()
    }


def _put_first(selection: SelectionSet, before: dict[tuple, Any]) -> None:
    """Apollo's order: the context's fields first (after ``__typename``), then the object's others."""
    for key, item in selection.items.items():
        if isinstance(item, OutFragment) and before.get(key) is not None:
            _put_first(item.sub, before[key])
    added = [key for key in selection.items if key not in before and key[0] == "f"]
    if not added:
        return
    typename = [key for key in selection.items if key[:2] == ("f", "__typename")][:1]
    order = [*typename, *added, *selection.items]
    selection.items = {key: selection.items[key] for key in dict.fromkeys(order)}


def _entity_fetch(tr: Traversal, ctx: Ctx, field: Field, deps: set[FetchGroup]) -> Ctx:
    """A new entity fetch of the parent of ``field`` from its own subgraph, after the fetches in ``deps``."""
    graph = ctx.group.graph
    keys = tr._entity_keys(ctx.type, graph)
    if not keys:
        raise PlanningError(
            f"{ctx.type}.{field.name} takes a @fromContext argument but {ctx.type} has no key in "
            f"{tr.sg.subgraph_name(graph)}"
        )
    key_type, key = keys[0]
    tree = parse_field_set(key)
    sink = {ctx.group}
    (ctx.level if ctx.level is not None else ctx.out).add_typename()
    tr.visit(replace(ctx, sink=sink, depth=ctx.depth + 1), tr.field_set_selections(ctx.type, tree))
    represented = ctx.type if tr.sg.types[ctx.type].kind == "object" else key_type
    group = tr.fetch_graph.entity_group(
        graph,
        ctx.path,
        sink | deps,
        ctx.conditions + field.conditions,
        lambda g: not tree_conflicts(g.inputs, {f"... on {represented}": tree}),
    )
    representation = group.inputs.add_fragment(represented)
    representation.add_typename()
    tree_into(representation, tree)
    out = group.selection.add_fragment(key_type)
    if ctx.sink is not None:
        ctx.sink.add(group)
    return replace(
        ctx,
        group=group,
        out=out,
        type=key_type,
        provided=None,
        depth=ctx.depth + 1,
        known=tree,
        known_for=key_type,
        level=out,
    )


def _add_rewrite(
    tr: Traversal,
    group: FetchGroup,
    argument: ContextArgument,
    variable: str,
    site: Ctx,
    types: frozenset[str],
) -> None:
    if any(r.variable == variable for r in group.context_rewrites):
        return
    sg = tr.sg
    levels = sum(1 for step in group.path[len(site.path) :] if step != "@")
    paths: list[tuple[frozenset[str] | None, tuple[str, ...]]] = []
    for key, sub in _selection(argument).items():
        if key.startswith("... on "):
            paths.append((sg.runtime_types(key[len("... on ") :]), _keys(sub or {})))
        else:
            paths.append((None, _keys({key: sub})))
    group.context_rewrites.append(ContextRewrite(variable, argument.type, levels, types, tuple(paths)))
    group.context_variables[variable] = argument.type


def _keys(tree: FieldSetTree) -> tuple[str, ...]:
    """The response keys down a context selection (one field a level, as composition requires)."""
    keys: list[str] = []
    while tree:
        key, sub = next(iter(tree.items()))
        name, arguments = split_field_key(key)
        keys.append(internal_alias(name, arguments) or name)
        tree = sub or {}
    return tuple(keys)


def _is_prefix(prefix: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return path[: len(prefix)] == prefix
