"""Partial unions: a union whose members differ by subgraph, below shareable fields. The members planned are
those every subgraph that may still resolve the path knows (an entity's shareable field can be reached in
either subgraph), so the answer never depends on which subgraph the plan picks; a field only one subgraph
resolves, or a value type only one subgraph returns, keeps that subgraph's members.

A warehouse and a courier both know depots, their shelves and parcels; only the warehouse stores pallets,
only the courier carries envelopes."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from standin import StandIn

from router.pipeline.gateway import Gateway
from shared.composition import compose
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
HEADER = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])\n'
)
WAREHOUSE = """
type Query { mainDepot: Depot  anyDepot: Depot @shareable  looseShelf: Shelf }
type Depot @key(fields: "id") { id: ID!  shelf: Shelf @shareable }
type Shelf @shareable { items: [Item!]! @shareable }
union Item = Parcel | Pallet
type Parcel @shareable { weight: Int }
type Pallet { slots: Int }
"""
COURIER = """
type Query { pickupDepot: Depot  anyDepot: Depot @shareable }
type Depot @key(fields: "id") { id: ID!  shelf: Shelf @shareable  outbox: Shelf }
type Shelf @shareable { items: [Item!]! @shareable }
union Item = Parcel | Envelope
type Parcel @shareable { weight: Int }
type Envelope { stamp: String }
"""
ITEMS = "items { __typename ... on Parcel { weight } ... on Pallet { slots } ... on Envelope { stamp } }"
WAREHOUSE_DATA = {
    "mainDepot": {"shelf": {"items": [{"__typename": "Parcel", "weight": 3}, {"__typename": "Pallet"}]}}
}


class Stand:
    def __init__(self) -> None:
        self.warehouse = StandIn(WAREHOUSE_DATA)
        self.servers = [ServerThread(self.warehouse).start(), ServerThread(StandIn({})).start()]
        warehouse_url, courier_url = (f"{server.url}/graphql" for server in self.servers)
        sources = [
            ("warehouse", warehouse_url, HEADER + WAREHOUSE),
            ("courier", courier_url, HEADER + COURIER),
        ]
        self.gateway = Gateway.from_supergraph(compose(sources, repo_root=REPO))


@pytest.fixture(scope="module")
def stand() -> Iterator[Stand]:
    stand = Stand()
    yield stand
    for server in stand.servers:
        server.stop()


def expect(stand: Stand, query: str, plan: str) -> None:
    assert stand.gateway.plan_text(query) == textwrap.dedent(plan).strip()


def only_parcels(service: str, root: str) -> str:
    return f"""
        QueryPlan {{
          Fetch(service: "{service}") {{
            {{
              {root} {{
                shelf {{
                  items {{
                    __typename
                    ... on Parcel {{
                      weight
                    }}
                  }}
                }}
              }}
            }}
          }},
        }}
        """


@pytest.mark.parametrize(
    ("root", "service"),
    [("mainDepot", "warehouse"), ("pickupDepot", "courier"), ("anyDepot", "courier")],
)
def test_below_an_entity_field_either_subgraph_resolves_only_the_members_both_know_are_planned(
    stand: Stand, root: str, service: str
) -> None:
    expect(stand, f"{{ {root} {{ shelf {{ {ITEMS} }} }} }}", only_parcels(service, root))


def test_a_field_reached_by_an_entity_call_plans_the_members_of_the_subgraph_called(stand: Stand) -> None:
    expect(
        stand,
        f"{{ mainDepot {{ outbox {{ {ITEMS} }} }} }}",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "warehouse") {
              {
                mainDepot {
                  __typename
                  id
                }
              }
            },
            Flatten(path: "mainDepot") {
              Fetch(service: "courier") {
                {
                  ... on Depot {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Depot {
                    outbox {
                      items {
                        __typename
                        ... on Parcel {
                          weight
                        }
                        ... on Envelope {
                          stamp
                        }
                      }
                    }
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_below_a_value_type_only_one_subgraph_returns_that_subgraphs_members_are_planned(
    stand: Stand,
) -> None:
    expect(
        stand,
        f"{{ looseShelf {{ {ITEMS} }} }}",
        """
        QueryPlan {
          Fetch(service: "warehouse") {
            {
              looseShelf {
                items {
                  __typename
                  ... on Parcel {
                    weight
                  }
                  ... on Pallet {
                    slots
                  }
                }
              }
            }
          },
        }
        """,
    )


async def test_an_object_of_a_member_not_planned_answers_its_fields_as_null(stand: Stand) -> None:
    result = await stand.gateway.execute(f"{{ mainDepot {{ shelf {{ {ITEMS} }} }} }}")
    items = [{"__typename": "Parcel", "weight": 3}, {"__typename": "Pallet", "slots": None}]
    assert result == {"data": {"mainDepot": {"shelf": {"items": items}}}}
    assert "Pallet" not in stand.warehouse.received[-1].body["query"]
