"""Which directive and type names the supergraph's ``@link``s give the specs it uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    ListValueNode,
    ObjectValueNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
)


@dataclass(frozen=True, slots=True)
class SpecNames:
    join: str | None = "join__"  # prefix of join's directives and types
    link: str = "link"
    inaccessible: str | None = None
    tag: str | None = None
    # Demand control's directives (the cost spec, Federation 2.9): `@cost` and `@listSize` as this supergraph
    # names them (`@cost`, `@listSize` imported, or `@cost__listSize`); None when the spec is not linked.
    cost: str | None = None
    list_size: str | None = None
    # The context spec's `@context` (Federation 2.8) as this supergraph names it; None when not linked.
    context: str | None = None
    # The authorization directives (Federation 2.5/2.6: `@authenticated`, `@requiresScopes`, `@policy`) as
    # this supergraph names them; None when their spec is not linked (router/pipeline/authorization.py).
    authenticated: str | None = None
    requires_scopes: str | None = None
    policy: str | None = None
    # Prefixes and names of every linked spec's own definitions (removed from the API schema).
    machinery_prefixes: tuple[str, ...] = ()
    machinery_directives: frozenset[str] = field(default_factory=frozenset)

    def is_machinery_type(self, name: str) -> bool:
        return name.startswith(self.machinery_prefixes)


def spec_names(document: DocumentNode) -> SpecNames:
    links: list[tuple[str, str | None, list]] = []
    for definition in document.definitions:
        if not isinstance(definition, (SchemaDefinitionNode, SchemaExtensionNode)):
            continue
        for directive in definition.directives or ():
            if directive.name.value != "link":
                continue
            url = alias = None
            imports: list = []
            for arg in directive.arguments or ():
                if arg.name.value == "url" and isinstance(arg.value, StringValueNode):
                    url = arg.value.value
                elif arg.name.value == "as" and isinstance(arg.value, StringValueNode):
                    alias = arg.value.value
                elif arg.name.value == "import" and isinstance(arg.value, ListValueNode):
                    imports = list(arg.value.values)
            if url:
                links.append((url, alias, imports))
    join = None
    inaccessible = None
    tag = None
    cost = list_size = None
    context = None
    access: dict[str, str] = {}
    prefixes: list[str] = ["link__"]
    directives: set[str] = {"link"}
    for url, alias, imports in links:
        parts = url.rstrip("/").split("/")
        spec = parts[-2] if len(parts) >= 2 and parts[-1].startswith("v") else parts[-1]
        name = alias or spec
        imported: dict[str, str] = {}
        for item in imports:
            if isinstance(item, StringValueNode):
                imported[item.value.lstrip("@")] = item.value.lstrip("@")
            elif isinstance(item, ObjectValueNode):
                values = {
                    f.name.value: f.value.value for f in item.fields if isinstance(f.value, StringValueNode)
                }
                if "name" in values:
                    imported[values["name"].lstrip("@")] = values.get("as", values["name"]).lstrip("@")
        if spec == "link":
            continue
        prefixes.append(f"{name}__")
        directives.add(name)
        directives.update(imported.values())
        if spec == "join":
            join = f"{name}__"
        elif spec == "inaccessible":
            inaccessible = imported.get("inaccessible", name)
        elif spec == "tag":
            tag = imported.get("tag", name)
        elif spec == "cost":
            cost = imported.get("cost", name)
            list_size = imported.get("listSize", f"{name}__listSize")
        elif spec == "context":
            context = imported.get("context", name)
        elif spec in ("authenticated", "requiresScopes", "policy"):
            access[spec] = imported.get(spec, name)
    return SpecNames(
        join=join,
        inaccessible=inaccessible,
        tag=tag,
        cost=cost,
        list_size=list_size,
        context=context,
        authenticated=access.get("authenticated"),
        requires_scopes=access.get("requiresScopes"),
        policy=access.get("policy"),
        machinery_prefixes=tuple(prefixes),
        machinery_directives=frozenset(directives),
    )
