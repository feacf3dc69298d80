"""The API schema: what clients see. The supergraph without @inaccessible elements, without the
join/link machinery and without any linked spec's directives."""

from __future__ import annotations

from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    GraphQLDeferDirective,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
)

from router.supergraph.loader import named_type
from router.supergraph.names import SpecNames


def build_api_schema(document: DocumentNode, names: SpecNames) -> GraphQLSchema:
    def is_machinery_directive(name: str) -> bool:
        return name in names.machinery_directives or name.startswith(names.machinery_prefixes)

    def hidden(node: Any) -> bool:
        return names.inaccessible is not None and any(
            d.name.value == names.inaccessible for d in node.directives or ()
        )

    def strip(node: Any) -> Any:
        directives = tuple(d for d in node.directives or () if not is_machinery_directive(d.name.value))
        return node.__class__(**{**_attrs(node), "directives": directives})

    removed = {
        d.name.value
        for d in document.definitions
        if isinstance(d, TypeDefinitionNode) and (hidden(d) or names.is_machinery_type(d.name.value))
    }
    definitions = []
    for definition in document.definitions:
        if isinstance(definition, (SchemaDefinitionNode, SchemaExtensionNode)):
            definitions.append(strip(definition))
            continue
        if isinstance(definition, DirectiveDefinitionNode):
            if not is_machinery_directive(definition.name.value):
                definitions.append(definition)
            continue
        if not isinstance(definition, TypeDefinitionNode) or definition.name.value in removed:
            continue
        attrs = _attrs(strip(definition))
        if isinstance(definition, (ObjectTypeDefinitionNode, InterfaceTypeDefinitionNode)):
            attrs["fields"] = tuple(
                strip(f).__class__(
                    **{
                        **_attrs(strip(f)),
                        "arguments": tuple(strip(a) for a in f.arguments or () if not hidden(a)),
                    }
                )
                for f in definition.fields or ()
                if not hidden(f) and named_type(f.type) not in removed
            )
            attrs["interfaces"] = tuple(i for i in definition.interfaces or () if i.name.value not in removed)
            if not attrs["fields"]:
                continue
        elif isinstance(definition, InputObjectTypeDefinitionNode):
            attrs["fields"] = tuple(strip(f) for f in definition.fields or () if not hidden(f))
        elif isinstance(definition, EnumTypeDefinitionNode):
            attrs["values"] = tuple(strip(v) for v in definition.values or () if not hidden(v))
        elif isinstance(definition, UnionTypeDefinitionNode):
            attrs["types"] = tuple(t for t in definition.types or () if t.name.value not in removed)
        definitions.append(definition.__class__(**attrs))
    schema = build_ast_schema(DocumentNode(definitions=tuple(definitions)), assume_valid_sdl=True)
    if schema.get_directive("defer") is None:
        # The router answers @defer itself (incremental delivery), whatever the subgraphs support.
        schema.directives = (*schema.directives, GraphQLDeferDirective)
    return schema


def _attrs(node: Any) -> dict[str, Any]:
    return {key: getattr(node, key) for key in node.keys if key != "loc"}
