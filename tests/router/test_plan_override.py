"""Plans of a progressively overridden field (`@override(from:, label:)`, join v0.5): the overriding subgraph
resolves it while its label is active, the original one otherwise; `percent(0)` and `percent(100)` always
plan one way."""

from __future__ import annotations

from pathlib import Path

import pytest
from plan_helpers import expect

from router.config import RouterConfig
from router.pipeline.gateway import Gateway
from router.server import build_gateway
from router.supergraph.overrides import OverrideLabelsConfig, percent_of
from shared.composition import compose

REPO = Path(__file__).resolve().parents[2]
HEADER = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@override"])\n'
)
QUERY = "{ product { id price } }"


def supergraph(label: str) -> str:
    old = HEADER + 'type Query { product: Product }\ntype Product @key(fields: "id") { id: ID! price: Int }\n'
    override = f'@override(from: "old", label: "{label}")'
    new = HEADER + f'type Product @key(fields: "id") {{ id: ID! price: Int {override} }}\n'
    return compose(
        [("old", "http://127.0.0.1:1/graphql", old), ("new", "http://127.0.0.1:2/graphql", new)],
        repo_root=REPO,
    )


ON_OLD = """
QueryPlan {
  Fetch(service: "old") {
    {
      product {
        id
        price
      }
    }
  },
}
"""

ON_NEW = """
QueryPlan {
  Sequence {
    Fetch(service: "old") {
      {
        product {
          id
          __typename
        }
      }
    },
    Flatten(path: "product") {
      Fetch(service: "new") {
        {
          ... on Product {
            __typename
            id
          }
        } =>
        {
          ... on Product {
            price
          }
        }
      },
    },
  },
}
"""


@pytest.fixture(scope="module")
def custom() -> str:
    return supergraph("beta")


def test_custom_label_inactive_plans_the_field_from_the_original_subgraph(custom: str) -> None:
    expect(Gateway.from_supergraph(custom), QUERY, ON_OLD)


def test_custom_label_named_in_config_plans_the_field_from_the_overriding_subgraph(custom: str) -> None:
    gateway = Gateway.from_supergraph(custom, override_labels=OverrideLabelsConfig(active=["beta"]))
    expect(gateway, QUERY, ON_NEW)


def test_each_label_combination_is_planned_and_cached_apart(custom: str) -> None:
    gateway = Gateway.from_supergraph(custom)
    on = frozenset({"beta"})
    assert gateway.plan_text(QUERY, labels=on) != gateway.plan_text(QUERY, labels=frozenset())
    assert gateway.plans.cached(QUERY, None, on)
    assert gateway.plans.cached(QUERY, None, frozenset())


def test_allow_listed_header_activates_a_label_and_others_are_ignored(custom: str) -> None:
    config = OverrideLabelsConfig(header="X-Override-Labels", from_header=["beta"])
    overrides = Gateway.from_supergraph(custom, override_labels=config).overrides
    assert overrides.active({"x-override-labels": "other, beta"}) == {"beta"}
    assert overrides.active({}) == frozenset()
    no_list = OverrideLabelsConfig(header="x-override-labels")
    unlisted = Gateway.from_supergraph(custom, override_labels=no_list)
    assert unlisted.overrides.active({"x-override-labels": "beta"}) == frozenset()


def test_a_list_in_router_yaml_names_the_active_labels() -> None:
    assert OverrideLabelsConfig.model_validate(["beta"]).active == ["beta"]


@pytest.mark.parametrize(("label", "plan"), [("percent(0)", ON_OLD), ("percent(100)", ON_NEW)])
def test_percent_label_at_0_and_100_always_plans_one_way(label: str, plan: str) -> None:
    gateway = Gateway.from_supergraph(supergraph(label))
    for _ in range(20):
        expect(gateway, QUERY, plan)


def test_percent_label_with_decimals_is_parsed() -> None:
    assert percent_of("percent(0.5)") == 0.5
    assert percent_of("percent(33.333333333)") == pytest.approx(33.333333333)
    assert percent_of("percentage(5)") is None


def test_router_yaml_override_labels_reach_the_gateway(tmp_path: Path, custom: str) -> None:
    path = tmp_path / "router.yaml"
    path.write_text("override_labels: [beta]\n")
    gateway = build_gateway(custom, RouterConfig.load(path))
    assert gateway.overrides.active() == {"beta"}
    expect(gateway, QUERY, ON_NEW)
