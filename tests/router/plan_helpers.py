"""Plan tests in the style of Apollo's build_query_plan_tests: subgraph SDLs inline, composed by
@apollo/composition, a query, and the expected printed plan."""

from __future__ import annotations

import textwrap
from pathlib import Path

from router.pipeline.gateway import Gateway
from shared.composition import compose

REPO = Path(__file__).resolve().parents[2]
HEADER = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
    'import: ["@key", "@shareable", "@external", "@requires", "@provides", "@interfaceObject"])\n'
)


def gateway_of(*subgraphs: tuple[str, str]) -> Gateway:
    """A gateway over `(name, sdl)` subgraphs (each SDL gets the federation `@link` header)."""
    sources = [
        (name, f"http://127.0.0.1:{i}/graphql", HEADER + sdl) for i, (name, sdl) in enumerate(subgraphs, 1)
    ]
    return Gateway.from_supergraph(compose(sources, repo_root=REPO))


def expect(gateway: Gateway, query: str, plan: str) -> None:
    assert gateway.plan_text(query) == textwrap.dedent(plan).strip()
