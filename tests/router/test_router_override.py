"""Progressive override end to end: stand-in subgraphs record which one each request's `price` was fetched
from. `percent(50)` splits 1,000 requests about evenly; `percent(0)` and `percent(100)` send all to one; a
custom label moves the field for the requests whose allow-listed header names it. The router's metrics count
the requests with each label active."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from standin import StandIn

from router.pipeline.gateway import Gateway
from router.supergraph.overrides import OverrideLabelsConfig
from shared.composition import compose
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
HEADER = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@override"])\n'
)
QUERY = "{ product { id price } }"
REQUESTS = 1000


@pytest.fixture(scope="module")
def standins() -> Iterator[dict[str, tuple[StandIn, ServerThread]]]:
    old = StandIn({"product": {"__typename": "Product", "id": "p1", "price": 1}})
    new = StandIn({"_entities": [{"__typename": "Product", "price": 2}]})
    started = {name: (app, ServerThread(app).start()) for name, app in (("old", old), ("new", new))}
    yield started
    for _, server in started.values():
        server.stop()


async def _fetches(
    standins: dict[str, tuple[StandIn, ServerThread]],
    label: str,
    requests: int,
    config: OverrideLabelsConfig | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, int]:
    """How many of `requests` fetched `price` from each subgraph (as the stand-ins recorded them)."""
    old_sdl = (
        HEADER + 'type Query { product: Product }\ntype Product @key(fields: "id") { id: ID! price: Int }\n'
    )
    override = f'@override(from: "old", label: "{label}")'
    new_sdl = HEADER + f'type Product @key(fields: "id") {{ id: ID! price: Int {override} }}\n'
    (old, old_server), (new, new_server) = standins["old"], standins["new"]
    sdl = compose(
        [("old", f"{old_server.url}/graphql", old_sdl), ("new", f"{new_server.url}/graphql", new_sdl)],
        repo_root=REPO,
    )
    old.received.clear()
    new.received.clear()
    gateway = Gateway.from_supergraph(sdl, override_labels=config)
    registry = CollectorRegistry()
    gateway.register_metrics(registry)
    prices = []
    try:
        for _ in range(requests):
            result = await gateway.execute(QUERY, headers=headers)
            prices.append(result["data"]["product"]["price"])
    finally:
        await gateway.close()
    # /metrics tells how many requests had the label active: those whose price came from the new subgraph.
    assert registry.get_sample_value("myshop_router_override_requests_total") == requests
    active = registry.get_sample_value("myshop_router_override_label_active_total", {"label": label})
    assert active == prices.count(2)
    counts = {
        "old": sum("price" in r.body["query"] for r in old.received),
        "new": sum("price" in r.body["query"] for r in new.received),
    }
    # Each answer came from the subgraph recorded for it: 1 from old, 2 from new.
    assert counts == {"old": prices.count(1), "new": prices.count(2)}
    assert counts["old"] + counts["new"] == requests
    return counts


async def test_percent_50_splits_1000_requests_between_both_subgraphs(standins: dict) -> None:
    counts = await _fetches(standins, "percent(50)", REQUESTS)
    print(f"percent(50) over {REQUESTS} requests: {counts}")
    assert 400 <= counts["old"] <= 600
    assert 400 <= counts["new"] <= 600


@pytest.mark.parametrize(("label", "all_from"), [("percent(0)", "old"), ("percent(100)", "new")])
async def test_percent_0_and_100_send_every_fetch_to_one_subgraph(
    standins: dict, label: str, all_from: str
) -> None:
    counts = await _fetches(standins, label, REQUESTS)
    assert counts[all_from] == REQUESTS


async def test_custom_label_moves_the_field_only_for_requests_whose_header_names_it(standins: dict) -> None:
    config = OverrideLabelsConfig(header="x-override-labels", from_header=["beta"])
    named = await _fetches(standins, "beta", 5, config, {"x-override-labels": "beta"})
    assert named == {"old": 0, "new": 5}
    unnamed = await _fetches(standins, "beta", 5, config)
    assert unnamed == {"old": 5, "new": 0}
