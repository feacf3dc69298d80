"""The committed schema files: each subgraph's SDL as printed by Strawberry, and the composed supergraph."""

from __future__ import annotations

from pathlib import Path

from shared.composition import SubgraphSDL, compose, load_supergraph_config, write_if_changed
from subgraphs import registry


def expected_schema_files(repo_root: Path) -> dict[Path, str]:
    """What `schema/` must hold for the code as it is: `<name>.graphql` per subgraph and the supergraph."""
    sources = load_supergraph_config(repo_root / "supergraph.yaml")
    names = [source.name for source in sources]
    if sorted(names) != sorted(registry.SUBGRAPHS):
        raise ValueError(
            f"supergraph.yaml lists {names}, the registry {list(registry.SUBGRAPHS)}: make them agree"
        )
    files: dict[Path, str] = {}
    subgraphs = []
    for source in sources:
        sdl = registry.load(source.name).schema.as_str().rstrip("\n") + "\n"
        files[source.schema_file] = sdl
        subgraphs.append(SubgraphSDL(source.name, source.routing_url, sdl))
    files[repo_root / "schema" / "supergraph.graphql"] = compose(subgraphs, repo_root=repo_root)
    return files


def compose_schema_files(repo_root: Path, *, write: bool) -> list[str]:
    """The schema files that differ from the code (written anew when `write`), relative to the repo."""
    stale = []
    for path, text in expected_schema_files(repo_root).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(str(path.relative_to(repo_root)))
            if write:
                write_if_changed(path, text)
    return stale
