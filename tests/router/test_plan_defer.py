"""@defer plans (router/planner/defer.py): a Defer node whose Primary is the operation without its deferred
fragments (plus the keys they resume from) and whose Deferred parts each resume from the primary's data,
printed as Apollo's query plan printer prints them (subgraph SDLs inline)."""

from __future__ import annotations

import pytest
from plan_helpers import expect, gateway_of

from router.pipeline.gateway import Gateway
from router.planner import QueryPlan

SUBGRAPH1 = """
type Query { t: T ts: [T!]! }
type T @key(fields: "id") { id: ID! x: Int v: V }
type V { a: Int b: Int }
"""

SUBGRAPH2 = """
type T @key(fields: "id") { id: ID! y: Int z: Int }
"""


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return gateway_of(("Subgraph1", SUBGRAPH1), ("Subgraph2", SUBGRAPH2))


def test_a_deferred_field_of_another_subgraph_is_an_entity_fetch_after_the_primary(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ t { x ... @defer { y } } }",
        """
        QueryPlan {
          Defer {
            Primary {
              { t { x } }:
              Fetch(service: "Subgraph1", id: 0) {
                {
                  t {
                    x
                    __typename
                    id
                  }
                }
              },
            }, [
              Deferred(depends: [0], path: "t") {
                { y }:
                Flatten(path: "t") {
                  Fetch(service: "Subgraph2") {
                    {
                      ... on T {
                        __typename
                        id
                      }
                    } =>
                    {
                      ... on T {
                        y
                      }
                    }
                  },
                },
              },
            ]
          },
        }
        """,
    )


def test_a_deferred_field_of_the_same_subgraph_is_fetched_again_through_the_entity(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ t { x ... @defer { x } } }",
        """
        QueryPlan {
          Defer {
            Primary {
              { t { x } }:
              Fetch(service: "Subgraph1", id: 0) {
                {
                  t {
                    x
                    __typename
                    id
                  }
                }
              },
            }, [
              Deferred(depends: [0], path: "t") {
                { x }:
                Flatten(path: "t") {
                  Fetch(service: "Subgraph1") {
                    {
                      ... on T {
                        __typename
                        id
                      }
                    } =>
                    {
                      ... on T {
                        x
                      }
                    }
                  },
                },
              },
            ]
          },
        }
        """,
    )


def test_a_labelled_defer_nested_in_another_resumes_after_it(gateway: Gateway) -> None:
    expect(
        gateway,
        '{ ts { x ... @defer(label: "outer") { y ... @defer(label: "inner") { z } } } }',
        """
        QueryPlan {
          Defer {
            Primary {
              { ts { x } }:
              Fetch(service: "Subgraph1", id: 0) {
                {
                  ts {
                    x
                    __typename
                    id
                  }
                }
              },
            }, [
              Deferred(depends: [0], path: "ts", label: "outer") {
                { y }:
                Defer {
                  Primary {
                    Flatten(path: "ts.@") {
                      Fetch(service: "Subgraph2", id: 1) {
                        {
                          ... on T {
                            __typename
                            id
                          }
                        } =>
                        {
                          ... on T {
                            y
                            __typename
                            id
                          }
                        }
                      },
                    },
                  }, [
                    Deferred(depends: [1], path: "ts", label: "inner") {
                      { z }:
                      Flatten(path: "ts.@") {
                        Fetch(service: "Subgraph2") {
                          {
                            ... on T {
                              __typename
                              id
                            }
                          } =>
                          {
                            ... on T {
                              z
                            }
                          }
                        },
                      },
                    },
                  ]
                },
              },
            ]
          },
        }
        """,
    )


def test_a_defer_at_the_root_is_a_plan_of_its_own(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ t { x } ... @defer { ts { y } } }",
        """
        QueryPlan {
          Defer {
            Primary {
              { t { x } }:
              Fetch(service: "Subgraph1") {
                {
                  t {
                    x
                  }
                }
              },
            }, [
              Deferred(depends: [], path: "") {
                { ts { y } }:
                Sequence {
                  Fetch(service: "Subgraph1") {
                    {
                      ts {
                        __typename
                        id
                      }
                    }
                  },
                  Flatten(path: "ts.@") {
                    Fetch(service: "Subgraph2") {
                      {
                        ... on T {
                          __typename
                          id
                        }
                      } =>
                      {
                        ... on T {
                          y
                        }
                      }
                    },
                  },
                },
              },
            ]
          },
        }
        """,
    )


def test_defer_if_a_variable_is_planned_under_its_condition(gateway: Gateway) -> None:
    expect(
        gateway,
        "query($d: Boolean!) { t { x ... @defer(if: $d) { y } } }",
        """
        QueryPlan {
          Include(if: $d) {
            Defer {
              Primary {
                { t { x } }:
                Fetch(service: "Subgraph1", id: 0) {
                  {
                    t {
                      x
                      __typename
                      id
                    }
                  }
                },
              }, [
                Deferred(depends: [0], path: "t") {
                  { y }:
                  Flatten(path: "t") {
                    Fetch(service: "Subgraph2") {
                      {
                        ... on T {
                          __typename
                          id
                        }
                      } =>
                      {
                        ... on T {
                          y
                        }
                      }
                    },
                  },
                },
              ]
            },
          },
        }
        """,
    )


def test_defer_if_false_is_no_defer(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ t { x ... @defer(if: false) { y } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "Subgraph1") {
              {
                t {
                  x
                  __typename
                  id
                }
              }
            },
            Flatten(path: "t") {
              Fetch(service: "Subgraph2") {
                {
                  ... on T {
                    __typename
                    id
                  }
                } =>
                {
                  ... on T {
                    y
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_a_deferred_named_fragment_keeps_its_label(gateway: Gateway) -> None:
    expect(
        gateway,
        'query { t { x ...Later @defer(label: "later") } } fragment Later on T { y z }',
        """
        QueryPlan {
          Defer {
            Primary {
              { t { x } }:
              Fetch(service: "Subgraph1", id: 0) {
                {
                  t {
                    x
                    __typename
                    id
                  }
                }
              },
            }, [
              Deferred(depends: [0], path: "t", label: "later") {
                { y z }:
                Flatten(path: "t") {
                  Fetch(service: "Subgraph2") {
                    {
                      ... on T {
                        __typename
                        id
                      }
                    } =>
                    {
                      ... on T {
                        y
                        z
                      }
                    }
                  },
                },
              },
            ]
          },
        }
        """,
    )


def test_a_defer_on_a_value_type_without_a_key_is_answered_with_its_parent(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ t { v { a ... @defer { b } } } }",
        """
        QueryPlan {
          Fetch(service: "Subgraph1") {
            {
              t {
                v {
                  a
                  b
                }
              }
            }
          },
        }
        """,
    )


def test_a_client_without_multipart_is_planned_as_if_nothing_were_deferred(gateway: Gateway) -> None:
    query = "{ t { x ... @defer { y } } }"
    prepared = gateway.documents.prepare(query)
    assert prepared.document is not None
    node = prepared.document.definitions[0]
    plan = gateway.plans.plan(query, None, prepared, node)[1]  # type: ignore[arg-type]

    assert plan.deferred is not None
    assert str(QueryPlan(plan.node)) == gateway.plan_text("{ t { x ... { y } } }")
