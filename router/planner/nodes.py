"""Plan nodes: a small tree of Fetch, Flatten, Sequence, Parallel, Condition, Subscription and Defer,
printable as text in the style of Apollo's query plan printer."""

from __future__ import annotations

from dataclasses import dataclass, field

from router.planner.operation import Condition as Cond
from router.planner.operation import Selection
from router.planner.selections import SelectionSet


@dataclass(frozen=True, slots=True)
class ContextRewrite:
    """Where an entity fetch's ``@fromContext`` variable gets its value for each entity (see
    router/planner/context.py): ``levels`` response keys up from the entity, the object setting the context
    (one of ``types``), then down ``paths``: (types a path applies to, None: all; the keys to the value)."""

    variable: str
    type: str  # the variable's type in the subgraph operation, e.g. "String"
    levels: int
    types: frozenset[str]
    paths: tuple[tuple[frozenset[str] | None, tuple[str, ...]], ...]


@dataclass(slots=True, eq=False)
class Fetch:
    service: str  # subgraph name
    graph: str  # join__Graph value
    selection: SelectionSet  # root selection, or what to select on each entity
    operation: str  # the text sent to the subgraph
    operation_kind: str = "query"
    variable_usages: tuple[str, ...] = ()
    requires: SelectionSet | None = None  # the representation of each entity (entity fetches)
    # Representation type condition -> the @interfaceObject name the subgraph knows the entity by.
    interface_objects: dict[str, str] = field(default_factory=dict)
    id: int = 0
    # Some fields were aliased to keep the operation valid: their answers need renaming back.
    renames: bool = False
    # The @fromContext variables of an entity fetch: the executor gives each entity its values.
    context_rewrites: tuple[ContextRewrite, ...] = ()
    # Set when a deferred part waits for this fetch: printed as its `id`, which `Deferred(depends:)` names.
    defer_id: int | None = None

    def lines(self, indent: int) -> list[str]:
        pad = "  " * indent
        named = f", id: {self.defer_id}" if self.defer_id is not None else ""
        out = [f'{pad}Fetch(service: "{self.service}"{named}) {{']
        if self.requires is not None:
            out.append(pad + "  {")
            out.extend(self.requires.print_lines(indent + 2))
            out.append(pad + "  } =>")
        out.append(pad + "  {")
        out.extend(self.selection.print_lines(indent + 2))
        out.append(pad + "  }")
        out.append(pad + "},")
        return out


@dataclass(slots=True, eq=False)
class Flatten:
    path: tuple[str, ...]
    node: Fetch
    # Further response paths whose entities the same fetch serves (one `_entities` call for all).
    more_paths: tuple[tuple[str, ...], ...] = ()

    @property
    def paths(self) -> tuple[tuple[str, ...], ...]:
        return (self.path, *self.more_paths)

    def lines(self, indent: int) -> list[str]:
        pad = "  " * indent
        if self.more_paths:
            listed = ", ".join(f'"{".".join(path)}"' for path in self.paths)
            head = f"{pad}Flatten(paths: [{listed}]) {{"
        else:
            head = f'{pad}Flatten(path: "{".".join(self.path)}") {{'
        return [head, *self.node.lines(indent + 1), pad + "},"]


@dataclass(slots=True, eq=False)
class Sequence:
    nodes: list[PlanNode] = field(default_factory=list)

    def lines(self, indent: int) -> list[str]:
        pad = "  " * indent
        return [pad + "Sequence {", *(line for n in self.nodes for line in n.lines(indent + 1)), pad + "},"]


@dataclass(slots=True, eq=False)
class Parallel:
    nodes: list[PlanNode] = field(default_factory=list)

    def lines(self, indent: int) -> list[str]:
        pad = "  " * indent
        return [pad + "Parallel {", *(line for n in self.nodes for line in n.lines(indent + 1)), pad + "},"]


@dataclass(slots=True, eq=False)
class Condition:
    """Runs ``if_clause`` when the variable is true, ``else_clause`` when false."""

    variable: str
    if_clause: PlanNode | None = None
    else_clause: PlanNode | None = None

    def lines(self, indent: int) -> list[str]:
        pad = "  " * indent
        if self.else_clause is None and self.if_clause is not None:
            return [f"{pad}Include(if: ${self.variable}) {{", *self.if_clause.lines(indent + 1), pad + "},"]
        if self.if_clause is None and self.else_clause is not None:
            return [f"{pad}Skip(if: ${self.variable}) {{", *self.else_clause.lines(indent + 1), pad + "},"]
        out = [f"{pad}Condition(if: ${self.variable}) {{", pad + "  Then {"]
        if self.if_clause is not None:
            out.extend(self.if_clause.lines(indent + 2))
        out += [pad + "  }", pad + "  Else {"]
        if self.else_clause is not None:
            out.extend(self.else_clause.lines(indent + 2))
        out += [pad + "  }", pad + "},"]
        return out


@dataclass(slots=True, eq=False)
class Subscription:
    """A subscription: ``primary`` opens the event stream on the subgraph owning the root field; ``rest``
    completes each event from the other subgraphs (entity fetches below the root field), or None."""

    primary: Fetch
    rest: PlanNode | None = None

    def lines(self, indent: int) -> list[str]:
        pad = "  " * indent
        primary = _last_unterminated(self.primary.lines(indent + 2))
        out = [pad + "Subscription {", pad + "  Primary: {", *primary]
        out.append(pad + "  }," if self.rest is not None else pad + "  }")
        if self.rest is not None:
            out += [pad + "  Rest: {", *_last_unterminated(self.rest.lines(indent + 2)), pad + "  }"]
        out.append(pad + "},")
        return out


@dataclass(slots=True, eq=False)
class Deferred:
    """One deferred fragment: its plan runs against the data of the part it depends on, and its answer is
    the fragment shaped at each object at ``path`` (a plan path, ``@`` for list items)."""

    path: tuple[str, ...]
    label: str | None
    parent_type: str  # the type of the objects at `path`
    selections: list[Selection]  # the fragment, as the shaper projects it (nested @defer left out)
    node: PlanNode | None  # its fetches (a Defer when fragments nested in it are deferred further)
    # The @skip/@include conditions on the way to the fragment: false, the part is not sent.
    conditions: tuple[Cond, ...] = ()
    depends: tuple[int, ...] = ()  # the fetches whose data it resumes from
    subselection: str = ""  # what it selects, printed on one line

    def lines(self, indent: int) -> list[str]:
        pad = "  " * indent
        depends = ", ".join(map(str, self.depends))
        label = f', label: "{self.label}"' if self.label is not None else ""
        path = "/".join(p for p in self.path if p != "@")
        out = [f'{pad}Deferred(depends: [{depends}], path: "{path}"{label}) {{']
        if self.subselection:
            out.append(f"{pad}  {self.subselection}:")
        if self.node is not None:
            out.extend(self.node.lines(indent + 1))
        out.append(pad + "},")
        return out


@dataclass(slots=True, eq=False)
class Defer:
    """An operation with deferred fragments: ``primary`` (the operation without them, plus the keys they
    resume from) is answered first, then each of ``deferred`` as its own part."""

    primary: PlanNode | None
    selections: list[Selection]  # the primary part, as the shaper projects it
    deferred: list[Deferred] = field(default_factory=list)
    subselection: str = ""

    def lines(self, indent: int) -> list[str]:
        pad = "  " * indent
        out = [pad + "Defer {", pad + "  Primary {"]
        if self.subselection:
            out.append(f"{pad}    {self.subselection}:")
        if self.primary is not None:
            out.extend(self.primary.lines(indent + 2))
        out.append(pad + "  }, [")
        for block in self.deferred:
            out.extend(block.lines(indent + 2))
        out += [pad + "  ]", pad + "},"]
        return out


def _last_unterminated(lines: list[str]) -> list[str]:
    """Apollo prints the one node inside ``Primary``/``Rest`` without its trailing comma."""
    if lines and lines[-1].endswith(","):
        lines[-1] = lines[-1][:-1]
    return lines


PlanNode = Fetch | Flatten | Sequence | Parallel | Condition | Subscription | Defer


@dataclass(slots=True, eq=False)
class QueryPlan:
    node: PlanNode | None
    # Root fields the router answers itself (__schema, __type): their response keys.
    introspection: bool = False
    # With @defer: the plan that answers in parts (a Defer, or Conditions choosing one by the `if`
    # variables); `node` answers the whole at once (a client that cannot take parts). None without @defer.
    deferred: PlanNode | None = None

    def __str__(self) -> str:
        node = self.deferred if self.deferred is not None else self.node
        if node is None:
            return "QueryPlan {\n}"
        lines = node.lines(1)
        return "\n".join(["QueryPlan {", *lines, "}"])

    def fetches(self) -> list[Fetch]:
        found: list[Fetch] = []

        def walk(node: PlanNode | None) -> None:
            if node is None:
                return
            if isinstance(node, Fetch):
                found.append(node)
            elif isinstance(node, Flatten):
                walk(node.node)
            elif isinstance(node, (Sequence, Parallel)):
                for child in node.nodes:
                    walk(child)
            elif isinstance(node, Subscription):
                walk(node.primary)
                walk(node.rest)
            elif isinstance(node, Defer):
                walk(node.primary)
                for block in node.deferred:
                    walk(block.node)
            else:
                walk(node.if_clause)
                walk(node.else_clause)

        walk(self.node)
        return found
