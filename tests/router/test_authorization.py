"""The authorization directives at the edge (router/pipeline/authorization.py): `@authenticated`,
`@requiresScopes` and `@policy` from the supergraph; what a caller may not read is removed before the plan,
answers null with UNAUTHORIZED_FIELD_OR_TYPE at its path, and never reaches a subgraph (recording
stand-ins)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from standin import REPO, StandIn

from router.config import RouterConfig
from router.pipeline.authorization import AuthorizationConfig
from router.pipeline.gateway import Gateway
from router.pipeline.request import GraphQLRequest
from router.server import build_gateway
from router.supergraph.overrides import NO_LABELS
from shared.auth import Principal
from shared.composition import compose
from shared.testing import ServerThread

LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6",'
    ' import: ["@key", "@authenticated", "@requiresScopes", "@policy"])\n'
)
ACCOUNTS = """
type Query {
  me: User @authenticated
  users: [User!]!
  user(id: ID!): User
  vault: Vault
  node: Node
  item: Item
}
interface Node { id: ID! }
union Item = User | Vault
type User implements Node @key(fields: "id") {
  id: ID!
  name: String
  email: String @requiresScopes(scopes: [["ADMIN"]])
  ssn: String! @requiresScopes(scopes: [["ADMIN", "AUDIT"], ["SERVICE"]])
  note: String @policy(policies: [["owner"]])
  memo: String @policy(policies: [["broken"], ["owner", "weekday"]])
}
type Vault implements Node @requiresScopes(scopes: [["ADMIN"]]) { id: ID! code: String }
"""
ORDERS = """
type User @key(fields: "id") {
  id: ID!
  orders: [String!] @authenticated
  revenue: Int @requiresScopes(scopes: [["ADMIN"]])
}
"""


def _user(i: int) -> dict[str, Any]:
    return {
        "__typename": "User",
        "id": f"u{i}",
        "name": f"user {i}",
        "email": f"u{i}@shop.test",
        "mail": f"u{i}@shop.test",
        "ssn": f"ssn-{i}",
        "note": f"note {i}",
        "memo": f"memo {i}",
    }


ACCOUNTS_DATA: dict[str, Any] = {
    "me": _user(1),
    "users": [_user(1), _user(2)],
    "people": [_user(1), _user(2)],
    "user": _user(2),
    "vault": {"__typename": "Vault", "id": "v1", "code": "1234"},
    "node": {"__typename": "Vault", "id": "v1", "code": "1234"},
    "item": {"__typename": "Vault", "id": "v1", "code": "1234"},
}
ORDERS_DATA: dict[str, Any] = {
    "_entities": [
        {"__typename": "User", "orders": ["o1"], "revenue": 10},
        {"__typename": "User", "orders": ["o2"], "revenue": 20},
    ]
}

# The policies router.yaml names, as this module (imported by pytest under its own name) defines them.
CALLS: list[str] = []


def owner(principal: Principal | None, headers: Mapping[str, str]) -> bool:
    """The caller owns what the request names (`x-owner`)."""
    CALLS.append("owner")
    return principal is not None and headers.get("x-owner") == principal.subject


async def weekday(principal: Principal | None, headers: Mapping[str, str]) -> bool:
    CALLS.append("weekday")
    return True


def broken(principal: Principal | None, headers: Mapping[str, str]) -> bool:
    CALLS.append("broken")
    raise RuntimeError("the policy store is down")


def principal(*roles: str, subject: str = "u1", scopes: frozenset[str] = frozenset()) -> Principal:
    now = time.time()
    return Principal(subject, frozenset(roles), "jti", now, now + 60, scopes=scopes)


CUSTOMER = principal("CUSTOMER")
ADMIN = principal("ADMIN")


@pytest.fixture(scope="module")
def standins() -> tuple[StandIn, StandIn]:
    return StandIn(ACCOUNTS_DATA), StandIn(ORDERS_DATA)


@pytest.fixture(scope="module")
def servers(standins: tuple[StandIn, StandIn]) -> Iterator[tuple[ServerThread, ServerThread]]:
    accounts, orders = ServerThread(standins[0]).start(), ServerThread(standins[1]).start()
    yield accounts, orders
    accounts.stop()
    orders.stop()


@pytest.fixture(scope="module")
def sdl(servers: tuple[ServerThread, ServerThread]) -> str:
    accounts, orders = servers
    return compose(
        [
            ("accounts", f"{accounts.url}/graphql", LINK + ACCOUNTS),
            ("orders", f"{orders.url}/graphql", LINK + ORDERS),
        ],
        repo_root=REPO,
    )


def policies(**extra: Any) -> AuthorizationConfig:
    here = __name__
    names = {"owner": f"{here}:owner", "weekday": f"{here}:weekday", "broken": f"{here}:broken"}
    return AuthorizationConfig(policies=names, **extra)


@pytest.fixture(scope="module")
async def gateway(sdl: str) -> Any:
    gateway = Gateway.from_supergraph(sdl, authorization=policies())
    yield gateway
    await gateway.close()


async def run(
    gateway: Gateway,
    query: str,
    who: Principal | None = None,
    headers: dict[str, str] | None = None,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    request = GraphQLRequest(query, variables, headers=dict(headers or {}))
    request.principal = who
    answer = await gateway.run(request)
    assert isinstance(answer, dict)
    return answer


def sent(standin: StandIn) -> list[str]:
    """The operations a stand-in received (and forget them)."""
    queries = [r.body["query"] for r in standin.received]
    standin.received.clear()
    return queries


def paths(answer: dict[str, Any]) -> list[list[Any]]:
    assert {e["extensions"]["code"] for e in answer.get("errors", ())} <= {"UNAUTHORIZED_FIELD_OR_TYPE"}
    return [e["path"] for e in answer.get("errors", ())]


# --- @requiresScopes: the acceptance test -------------------------------------------------------------------


async def test_a_customer_gets_null_and_an_error_for_a_scoped_field_that_the_subgraph_never_sees(
    gateway: Gateway, standins: tuple[StandIn, StandIn]
) -> None:
    accounts, _ = standins
    sent(accounts)
    answer = await run(gateway, "{ users { id email } }", CUSTOMER)
    assert answer["data"] == {"users": [{"id": "u1", "email": None}, {"id": "u2", "email": None}]}
    assert answer["errors"][0] == {
        "message": "Unauthorized field or type",
        "path": ["users", 0, "email"],
        "extensions": {"code": "UNAUTHORIZED_FIELD_OR_TYPE"},
    }
    assert paths(answer) == [["users", 0, "email"], ["users", 1, "email"]]
    (query,) = sent(accounts)
    assert "email" not in query and "users" in query


async def test_an_admin_gets_the_scoped_field(gateway: Gateway, standins: tuple[StandIn, StandIn]) -> None:
    accounts, _ = standins
    sent(accounts)
    answer = await run(gateway, "{ users { id email } }", ADMIN)
    assert answer == {
        "data": {"users": [{"id": "u1", "email": "u1@shop.test"}, {"id": "u2", "email": "u2@shop.test"}]}
    }
    (query,) = sent(accounts)
    assert "email" in query


async def test_callers_with_different_rights_do_not_share_a_plan(gateway: Gateway) -> None:
    query = "{ users { id email } }"
    assert "email" not in (await run(gateway, query, CUSTOMER))["data"]["users"][0].values()
    assert (await run(gateway, query, ADMIN))["data"]["users"][0]["email"] == "u1@shop.test"
    assert (await run(gateway, query, CUSTOMER))["data"]["users"][0]["email"] is None
    stage = gateway.authorization
    assert stage is not None
    access = stage.lookup(query, None)
    assert access is not None and len(access.rules) == 1
    assert gateway.plans.cached(query, None, NO_LABELS, frozenset(access.rules))  # the customer's plan
    assert gateway.plans.cached(query, None, NO_LABELS)  # the admin's: the operation as written


async def test_an_operation_touching_nothing_protected_is_analyzed_once(gateway: Gateway) -> None:
    stage = gateway.authorization
    assert stage is not None
    query = "{ users { id name } }"
    for _ in range(2):
        assert (await run(gateway, query))["data"]["users"][1] == {"id": "u2", "name": "user 2"}
    access = stage.lookup(query, None)
    assert access is not None and access.rules == ()


async def test_all_scopes_of_one_alternative_are_needed_and_the_scope_claim_counts(gateway: Gateway) -> None:
    query = '{ user(id: "u2") { id ssn } }'
    assert paths(await run(gateway, query, ADMIN)) == [["user", "ssn"]]
    audited = principal("ADMIN", scopes=frozenset({"AUDIT"}))
    assert (await run(gateway, query, audited))["data"] == {"user": {"id": "u2", "ssn": "ssn-2"}}
    assert (await run(gateway, query, principal("SERVICE")))["data"]["user"]["ssn"] == "ssn-2"


# --- null-bubbling, aliases, fragments, types ---------------------------------------------------------------


async def test_a_removed_non_null_field_nulls_its_parent(gateway: Gateway) -> None:
    answer = await run(gateway, '{ user(id: "u2") { id name ssn } }', CUSTOMER)
    assert answer["data"] == {"user": None}
    assert paths(answer) == [["user", "ssn"]]


async def test_error_paths_use_the_clients_aliases(
    gateway: Gateway, standins: tuple[StandIn, StandIn]
) -> None:
    accounts, _ = standins
    sent(accounts)
    answer = await run(gateway, "{ people: users { id mail: email } }", CUSTOMER)
    assert answer["data"] == {"people": [{"id": "u1", "mail": None}, {"id": "u2", "mail": None}]}
    assert paths(answer) == [["people", 0, "mail"], ["people", 1, "mail"]]
    assert all("email" not in q and "mail" not in q for q in sent(accounts))


async def test_fields_in_named_and_inline_fragments_are_removed(
    gateway: Gateway, standins: tuple[StandIn, StandIn]
) -> None:
    accounts, _ = standins
    sent(accounts)
    query = "query { users { ...Contact ... on User { name } } } fragment Contact on User { id email }"
    answer = await run(gateway, query, CUSTOMER)
    assert answer["data"]["users"][0] == {"id": "u1", "email": None, "name": "user 1"}
    assert paths(answer) == [["users", 0, "email"], ["users", 1, "email"]]
    assert "email" not in sent(accounts)[0]


async def test_a_removed_field_skipped_by_a_variable_has_no_error(gateway: Gateway) -> None:
    query = "query($skip: Boolean!) { users { id email @skip(if: $skip) } }"
    skipped = await run(gateway, query, CUSTOMER, variables={"skip": True})
    assert skipped == {"data": {"users": [{"id": "u1"}, {"id": "u2"}]}}
    kept = await run(gateway, query, CUSTOMER, variables={"skip": False})
    assert paths(kept) == [["users", 0, "email"], ["users", 1, "email"]]


async def test_a_field_of_a_protected_type_is_removed(
    gateway: Gateway, standins: tuple[StandIn, StandIn]
) -> None:
    accounts, _ = standins
    sent(accounts)
    answer = await run(gateway, "{ vault { code } users { id } }", CUSTOMER)
    assert answer["data"] == {"vault": None, "users": [{"id": "u1"}, {"id": "u2"}]}
    assert paths(answer) == [["vault"]]
    assert "vault" not in sent(accounts)[0]
    assert (await run(gateway, "{ vault { code } }", ADMIN))["data"] == {"vault": {"code": "1234"}}


async def test_a_fragment_on_a_protected_type_is_removed(
    gateway: Gateway, standins: tuple[StandIn, StandIn]
) -> None:
    accounts, _ = standins
    sent(accounts)
    answer = await run(gateway, "{ item { ... on User { id } ... on Vault { code } } }", CUSTOMER)
    assert answer["data"] == {"item": {"code": None}}
    assert paths(answer) == [["item"]]
    assert "Vault" not in sent(accounts)[0]
    admin = await run(gateway, "{ item { ... on User { id } ... on Vault { code } } }", ADMIN)
    assert admin == {"data": {"item": {"code": "1234"}}}


async def test_an_interface_some_implementation_of_which_is_protected_is_too(gateway: Gateway) -> None:
    # Composition gives the interface its implementations' requirements (Vault's @requiresScopes).
    answer = await run(gateway, "{ node { id } }", CUSTOMER)
    assert answer["data"] == {"node": None}
    assert paths(answer) == [["node"]]
    assert (await run(gateway, "{ node { id } }", ADMIN))["data"] == {"node": {"id": "v1"}}


# --- @authenticated -----------------------------------------------------------------------------------------


async def test_an_anonymous_caller_left_with_nothing_calls_no_subgraph(
    gateway: Gateway, standins: tuple[StandIn, StandIn]
) -> None:
    accounts, _ = standins
    sent(accounts)
    answer = await run(gateway, "{ me { id } }")
    assert answer["data"] == {"me": None}
    assert paths(answer) == [["me"]]
    assert sent(accounts) == []
    assert (await run(gateway, "{ me { id } }", CUSTOMER)) == {"data": {"me": {"id": "u1"}}}


async def test_an_authenticated_field_behind_an_entity_jump_is_not_fetched(
    gateway: Gateway, standins: tuple[StandIn, StandIn]
) -> None:
    _, orders = standins
    sent(orders)
    answer = await run(gateway, "{ users { id orders } }")
    assert answer["data"] == {"users": [{"id": "u1", "orders": None}, {"id": "u2", "orders": None}]}
    assert paths(answer) == [["users", 0, "orders"], ["users", 1, "orders"]]
    assert sent(orders) == []
    answer = await run(gateway, "{ users { id orders } }", CUSTOMER)
    assert answer["data"]["users"][1] == {"id": "u2", "orders": ["o2"]}
    assert sent(orders) != []


# --- @policy ------------------------------------------------------------------------------------------------


async def test_a_policy_allows_or_denies_and_runs_once_per_request(gateway: Gateway) -> None:
    query = "{ users { id note } }"
    CALLS.clear()
    allowed = await run(gateway, query, CUSTOMER, headers={"x-owner": "u1"})
    assert allowed["data"]["users"][0] == {"id": "u1", "note": "note 1"}
    assert CALLS == ["owner"]
    denied = await run(gateway, query, CUSTOMER, headers={"x-owner": "someone else"})
    assert denied["data"]["users"][0] == {"id": "u1", "note": None}
    assert paths(denied) == [["users", 0, "note"], ["users", 1, "note"]]


async def test_a_raising_policy_is_denied_and_logged_and_another_alternative_may_hold(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    query = "{ users { id memo } }"
    CALLS.clear()
    answer = await run(gateway, query, CUSTOMER, headers={"x-owner": "u1"})
    assert answer["data"]["users"][0]["memo"] == "memo 1"  # owner and weekday hold
    assert sorted(CALLS) == ["broken", "owner", "weekday"]
    assert "'broken' raised" in caplog.text
    denied = await run(gateway, query, CUSTOMER)
    assert paths(denied) == [["users", 0, "memo"], ["users", 1, "memo"]]


async def test_a_policy_without_a_callable_is_denied(sdl: str, caplog: pytest.LogCaptureFixture) -> None:
    gateway = Gateway.from_supergraph(sdl, authorization=AuthorizationConfig())
    try:
        assert "'owner' has no callable" in caplog.text
        answer = await run(gateway, "{ users { id note } }", ADMIN, headers={"x-owner": "u1"})
        assert answer["data"]["users"][0]["note"] is None
    finally:
        await gateway.close()


# --- reject mode, metrics -----------------------------------------------------------------------------------


async def test_reject_mode_refuses_the_whole_request(sdl: str, standins: tuple[StandIn, StandIn]) -> None:
    accounts, _ = standins
    sent(accounts)
    gateway = Gateway.from_supergraph(sdl, authorization=policies(reject_unauthorized=True))
    try:
        answer = await run(gateway, "{ users { id email } item { ... on Vault { code } } }", CUSTOMER)
        assert answer["data"] is None
        assert paths(answer) == [["users", "@", "email"], ["item"]]
        assert sent(accounts) == []
    finally:
        await gateway.close()


async def test_removed_fields_are_counted(gateway: Gateway) -> None:
    registry = CollectorRegistry()
    gateway.register_metrics(registry)
    before = registry.get_sample_value("myshop_router_unauthorized_fields_total") or 0
    await run(gateway, "{ users { id email revenue } }", CUSTOMER)
    assert registry.get_sample_value("myshop_router_unauthorized_fields_total") == before + 2


# --- configuration ----------------------------------------------------------------------------------------


async def test_the_directives_are_enforced_only_behind_edge_auth(
    sdl: str, caplog: pytest.LogCaptureFixture
) -> None:
    policy = {"policies": {"owner": f"{__name__}:owner"}}
    behind = build_gateway(sdl, RouterConfig(jwks_url="http://127.0.0.1:9/jwks.json", authorization=policy))
    assert behind.authorization is not None and set(behind.authorization.policies) == {"owner"}
    blind = build_gateway(sdl, RouterConfig(jwks_url="", authorization=policy))
    assert blind.authorization is None
    assert "not enforced: edge auth (jwks_url) is off" in caplog.text
    await behind.close()
    await blind.close()


def test_a_policy_that_cannot_be_loaded_is_a_clear_error(sdl: str) -> None:
    with pytest.raises(
        ValueError, match=r"authorization policy 'owner': cannot load 'no\.such\.module:owner'"
    ):
        Gateway.from_supergraph(
            sdl, authorization=AuthorizationConfig(policies={"owner": "no.such.module:owner"})
        )
