"""The committed schema files match the code: a stale `schema/` fails here (run `myshop compose`)."""

from __future__ import annotations

import re
from pathlib import Path

from myshop.schema_files import compose_schema_files
from subgraphs import registry

REPO = Path(__file__).resolve().parent.parent


def test_committed_schema_files_are_not_stale() -> None:
    stale = compose_schema_files(REPO, write=False)
    assert stale == [], f"stale schema files: {stale}; run `myshop compose` and commit them"


def test_supergraph_is_composed_by_apollo_with_a_graph_per_subgraph() -> None:
    supergraph = (REPO / "schema" / "supergraph.graphql").read_text()
    assert '@link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)' in supergraph
    graphs = re.search(r"enum join__Graph \{(.*?)\}", supergraph, re.S)
    assert graphs is not None
    names = set(re.findall(r'@join__graph\(name: "(\w+)"', graphs.group(1)))
    assert names == set(registry.SUBGRAPHS)


def test_a_changed_subgraph_schema_is_reported_stale(tmp_path: Path) -> None:
    # Given a copy of the repo's schema files with one subgraph SDL edited by hand
    (tmp_path / "schema").mkdir()
    for path in (REPO / "schema").glob("*.graphql"):
        (tmp_path / "schema" / path.name).write_text(path.read_text())
    (tmp_path / "supergraph.yaml").write_text((REPO / "supergraph.yaml").read_text())
    (tmp_path / "node_modules").symlink_to(REPO / "node_modules")
    edited = tmp_path / "schema" / "products.graphql"
    edited.write_text(edited.read_text() + "\n# edited\n")
    # Then the check names exactly that file
    assert compose_schema_files(tmp_path, write=False) == ["schema/products.graphql"]
