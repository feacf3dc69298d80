"""Composition of Strawberry Federation 2 subgraphs with Apollo's @apollo/composition (via Node).

These tests need `npm ci` to have run in the repository root; without it they fail (on purpose) with
CompositionToolError saying so, since CI installs the npm packages before running pytest.
"""

import json
import subprocess
from pathlib import Path

import graphql
import pytest
import strawberry

from shared.composition import (
    COMPOSE_SCRIPT,
    CompositionError,
    CompositionToolError,
    SubgraphSDL,
    SubgraphSource,
    compose,
    load_supergraph_config,
    write_if_changed,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


# Each subgraph has its own Python class for the shared `Product` entity, as the real subgraphs do.
@strawberry.federation.type(keys=["id"], name="Product")
class CatalogProduct:
    id: strawberry.ID
    name: str


@strawberry.federation.type(keys=["id"], name="Product")
class StockedProduct:
    id: strawberry.ID
    in_stock: bool


@strawberry.federation.type(keys=["id"], name="Product")
class RenamingStockedProduct:
    """Defines `name` again without @shareable: composition must refuse it."""

    id: strawberry.ID
    name: str
    in_stock: bool


@strawberry.type
class ProductsQuery:
    @strawberry.field
    def product(self, id: strawberry.ID) -> CatalogProduct | None:
        return None


@strawberry.type
class InventoryQuery:
    @strawberry.field
    def restock_queue(self) -> list[StockedProduct]:
        return []


@strawberry.type
class RenamingInventoryQuery:
    @strawberry.field
    def restock_queue(self) -> list[RenamingStockedProduct]:
        return []


def products_sdl() -> str:
    return strawberry.federation.Schema(query=ProductsQuery).as_str()


def inventory_sdl() -> str:
    return strawberry.federation.Schema(query=InventoryQuery).as_str()


def test_strawberry_prints_federation_2_subgraph_sdl() -> None:
    sdl = products_sdl()

    assert '@link(url: "https://specs.apollo.dev/federation/v2.' in sdl
    assert '@key(fields: "id")' in sdl


def test_two_subgraphs_compose_into_a_supergraph_with_join_directives() -> None:
    supergraph = compose(
        [
            ("products", "http://localhost:4002/graphql", products_sdl()),
            SubgraphSDL("inventory", "http://localhost:4005/graphql", inventory_sdl()),
        ],
        repo_root=REPO_ROOT,
    )

    assert 'PRODUCTS @join__graph(name: "products", url: "http://localhost:4002/graphql")' in supergraph
    assert 'INVENTORY @join__graph(name: "inventory", url: "http://localhost:4005/graphql")' in supergraph
    assert '@join__type(graph: PRODUCTS, key: "id")' in supergraph
    assert '@join__type(graph: INVENTORY, key: "id")' in supergraph
    assert supergraph.endswith("\n")
    # The router reads this text with graphql-core: it must be a valid schema document.
    schema = graphql.build_schema(supergraph)
    product = schema.get_type("Product")
    assert isinstance(product, graphql.GraphQLObjectType)
    assert {"id", "name", "inStock"} <= set(product.fields)
    join_graph = schema.get_type("join__Graph")
    assert isinstance(join_graph, graphql.GraphQLEnumType)
    assert set(join_graph.values) == {"PRODUCTS", "INVENTORY"}


def test_same_non_shareable_field_in_two_subgraphs_raises_composition_error() -> None:
    with pytest.raises(CompositionError) as raised:
        compose(
            [
                ("products", "http://localhost:4002/graphql", products_sdl()),
                (
                    "inventory",
                    "http://localhost:4005/graphql",
                    strawberry.federation.Schema(query=RenamingInventoryQuery).as_str(),
                ),
            ],
            repo_root=REPO_ROOT,
        )

    assert "INVALID_FIELD_SHARING" in raised.value.codes
    assert any("Product.name" in message for message in raised.value.errors)
    assert "INVALID_FIELD_SHARING" in str(raised.value)


def test_sdl_syntax_error_raises_composition_error_naming_the_subgraph() -> None:
    with pytest.raises(CompositionError) as raised:
        compose(
            [("products", "http://localhost:4002/graphql", "type Query { product: }")], repo_root=REPO_ROOT
        )

    assert raised.value.codes == ["INVALID_GRAPHQL"]
    assert raised.value.errors[0].startswith("[products]")


def test_missing_node_modules_raises_tool_error_asking_for_npm_ci(tmp_path: Path) -> None:
    with pytest.raises(CompositionToolError, match="npm ci"):
        compose([("products", "http://localhost:4002/graphql", products_sdl())], repo_root=tmp_path)


def test_missing_node_raises_tool_error() -> None:
    with pytest.raises(CompositionToolError, match=r"Node\.js"):
        compose(
            [("products", "http://localhost:4002/graphql", products_sdl())],
            repo_root=REPO_ROOT,
            node="no-such-node-executable",
        )


def test_compose_script_runs_from_any_working_directory(tmp_path: Path) -> None:
    request = {"subgraphs": [{"name": "products", "url": "http://products/graphql", "sdl": products_sdl()}]}

    completed = subprocess.run(
        ["node", str(COMPOSE_SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    assert '@join__type(graph: PRODUCTS, key: "id")' in completed.stdout


def test_load_supergraph_config_resolves_schema_files_against_the_yaml(tmp_path: Path) -> None:
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "products.graphql").write_text(products_sdl(), encoding="utf-8")
    (tmp_path / "schema" / "inventory.graphql").write_text(inventory_sdl(), encoding="utf-8")
    config = tmp_path / "supergraph.yaml"
    config.write_text(
        "federation_version: =2.14.4\n"
        "subgraphs:\n"
        "  products:\n"
        "    routing_url: http://localhost:4002/graphql\n"
        "    schema:\n"
        "      file: ./schema/products.graphql\n"
        "  inventory:\n"
        "    routing_url: http://localhost:4005/graphql\n"
        "    schema:\n"
        "      file: schema/inventory.graphql\n",
        encoding="utf-8",
    )

    sources = load_supergraph_config(config)

    assert sources == [
        SubgraphSource("products", "http://localhost:4002/graphql", tmp_path / "schema" / "products.graphql"),
        SubgraphSource(
            "inventory", "http://localhost:4005/graphql", tmp_path / "schema" / "inventory.graphql"
        ),
    ]
    supergraph = compose(sources, repo_root=REPO_ROOT)
    assert '@join__type(graph: INVENTORY, key: "id")' in supergraph


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (
            "federation_version: =1.1.0\nsubgraphs: {a: {routing_url: u, schema: {file: a.graphql}}}\n",
            "Federation 2",
        ),
        ("federation_version: 2\nsubgraphs: {}\n", "subgraphs"),
        ("subgraphs: {a: {schema: {file: a.graphql}}}\n", "routing_url"),
        ("subgraphs: {a: {routing_url: u, schema: {subgraph_url: http://a}}}\n", "schema"),
    ],
)
def test_load_supergraph_config_rejects_what_it_cannot_compose(
    tmp_path: Path, text: str, complaint: str
) -> None:
    config = tmp_path / "supergraph.yaml"
    config.write_text(text, encoding="utf-8")

    with pytest.raises(ValueError, match=complaint):
        load_supergraph_config(config)


def test_write_if_changed_writes_only_new_content(tmp_path: Path) -> None:
    target = tmp_path / "schema" / "supergraph.graphql"

    assert write_if_changed(target, "type Query { a: Int }\n") is True
    assert write_if_changed(target, "type Query { a: Int }\n") is False
    assert write_if_changed(target, "type Query { b: Int }\n") is True
    assert target.read_text(encoding="utf-8") == "type Query { b: Int }\n"
    assert [path.name for path in target.parent.iterdir()] == ["supergraph.graphql"]
