"""Header propagation: router.yaml's `headers:` rules decide which client headers each subgraph gets; the
request id always goes along. Two stand-in subgraphs (alpha, beta) keep the headers they receive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standin import StandIn, supergraph

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
RULES = {
    "all": {
        "request": [
            {"propagate": {"named": "authorization"}},
            {"propagate": {"matching": "^x-shop-"}},
            {"remove": {"named": "x-shop-secret"}},
            {"propagate": {"named": "x-client-version", "rename": "x-version"}},
            {"propagate": {"named": "accept-language", "default": "en"}},
            {"insert": {"name": "x-via", "value": "router"}},
        ]
    },
    "subgraphs": {
        "beta": {
            "request": [
                {"insert": {"name": "x-only-beta", "value": "yes"}},
                {"remove": {"named": "x-shop-a"}},
            ]
        }
    },
}


@pytest.fixture(scope="module")
def subgraphs() -> Iterator[dict[str, Any]]:
    alpha, beta = StandIn({"alpha": "a"}), StandIn({"beta": "b"})
    servers = {"alpha": ServerThread(alpha).start(), "beta": ServerThread(beta).start()}
    sdl = supergraph(
        [
            ("alpha", servers["alpha"], "type Query { alpha: String }"),
            ("beta", servers["beta"], "type Query { beta: String }"),
        ]
    )
    yield {"sdl": sdl, "alpha": alpha, "beta": beta}
    for server in servers.values():
        server.stop()


def start_router(sdl: str, **settings: Any) -> ServerThread:
    config = RouterConfig(graphiql=False, **settings)
    return ServerThread(create_app(build_gateway(sdl, config), config)).start()


@pytest.fixture(scope="module")
def plain_router(subgraphs: dict[str, Any]) -> Iterator[ServerThread]:
    server = start_router(subgraphs["sdl"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ruled_router(subgraphs: dict[str, Any]) -> Iterator[ServerThread]:
    server = start_router(subgraphs["sdl"], headers=RULES)
    yield server
    server.stop()


async def ask(
    router: ServerThread, subgraphs: dict[str, Any], headers: dict[str, str]
) -> tuple[httpx.Response, dict[str, str], dict[str, str]]:
    """Sends `{ alpha beta }` with `headers`; the response and the headers alpha and beta received."""
    before = len(subgraphs["alpha"].received), len(subgraphs["beta"].received)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{router.url}/graphql", json={"query": "{ alpha beta }"}, headers=headers
        )
    assert response.json() == {"data": {"alpha": "a", "beta": "b"}}
    assert (len(subgraphs["alpha"].received), len(subgraphs["beta"].received)) == (
        before[0] + 1,
        before[1] + 1,
    )
    return response, subgraphs["alpha"].received[-1].headers, subgraphs["beta"].received[-1].headers


async def test_without_rules_every_end_to_end_header_passes_and_hop_by_hop_ones_do_not(
    plain_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    _, alpha, _ = await ask(
        plain_router,
        subgraphs,
        {
            "authorization": "Bearer t",
            "x-anything": "1",
            "proxy-authorization": "Basic secret",
            "te": "trailers",
        },
    )

    assert alpha["authorization"] == "Bearer t"
    assert alpha["x-anything"] == "1"
    assert "proxy-authorization" not in alpha
    assert "te" not in alpha
    assert alpha["content-type"] == "application/json"


async def test_a_named_rule_passes_only_the_headers_it_names(
    ruled_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    _, alpha, _ = await ask(ruled_router, subgraphs, {"Authorization": "Bearer t", "cookie": "session=1"})

    assert alpha["authorization"] == "Bearer t"
    assert "cookie" not in alpha


async def test_a_regex_rule_passes_every_header_it_matches(
    ruled_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    _, alpha, _ = await ask(ruled_router, subgraphs, {"X-Shop-Tenant": "eu", "x-shop-a": "1", "x-other": "2"})

    assert (alpha["x-shop-tenant"], alpha["x-shop-a"]) == ("eu", "1")
    assert "x-other" not in alpha


async def test_a_later_remove_takes_back_what_a_regex_passed(
    ruled_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    _, alpha, _ = await ask(ruled_router, subgraphs, {"x-shop-secret": "s", "x-shop-tenant": "eu"})

    assert "x-shop-secret" not in alpha
    assert alpha["x-shop-tenant"] == "eu"


async def test_a_renamed_header_arrives_under_its_new_name(
    ruled_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    _, alpha, _ = await ask(ruled_router, subgraphs, {"x-client-version": "2.1"})

    assert alpha["x-version"] == "2.1"
    assert "x-client-version" not in alpha


async def test_a_default_fills_a_header_the_client_did_not_send(
    ruled_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    _, without, _ = await ask(ruled_router, subgraphs, {})
    _, with_it, _ = await ask(ruled_router, subgraphs, {"accept-language": "de"})

    assert without["accept-language"] == "en"
    assert with_it["accept-language"] == "de"


async def test_an_inserted_header_has_its_fixed_value_over_the_clients(
    ruled_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    _, alpha, beta = await ask(ruled_router, subgraphs, {"x-via": "forged"})

    assert alpha["x-via"] == beta["x-via"] == "router"


async def test_a_subgraphs_own_rules_apply_to_it_alone(
    ruled_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    _, alpha, beta = await ask(ruled_router, subgraphs, {"x-shop-a": "1"})

    assert beta["x-only-beta"] == "yes"
    assert "x-shop-a" not in beta
    assert "x-only-beta" not in alpha
    assert alpha["x-shop-a"] == "1"


async def test_a_request_id_is_made_when_absent_and_sent_to_every_subgraph(
    ruled_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    response, alpha, beta = await ask(ruled_router, subgraphs, {})

    request_id = response.headers["x-request-id"]
    assert request_id
    assert alpha["x-request-id"] == beta["x-request-id"] == request_id


async def test_a_clients_request_id_is_kept_and_passed_on(
    ruled_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    response, alpha, beta = await ask(ruled_router, subgraphs, {"x-request-id": "client-id-42"})

    assert response.headers["x-request-id"] == "client-id-42"
    assert alpha["x-request-id"] == beta["x-request-id"] == "client-id-42"


def test_rules_for_a_subgraph_the_supergraph_lacks_are_refused(subgraphs: dict[str, Any]) -> None:
    config = RouterConfig(headers={"subgraphs": {"gamma": {"request": [{"remove": {"named": "cookie"}}]}}})

    with pytest.raises(ValueError, match="gamma"):
        build_gateway(subgraphs["sdl"], config)


@pytest.mark.parametrize(
    "rule",
    [
        {"propagate": {"named": "a", "matching": "b"}},
        {"propagate": {"matching": "("}},
        {"propagate": {"matching": "^x-", "rename": "y"}},
        {"insert": {"name": "a", "value": "1"}, "remove": {"named": "a"}},
        {"shout": {"named": "a"}},
    ],
    ids=["named and matching", "bad regex", "rename of a regex", "two kinds", "unknown kind"],
)
def test_a_malformed_rule_is_refused(rule: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RouterConfig(headers={"all": {"request": [rule]}})


def test_the_committed_router_yaml_builds_over_the_committed_supergraph() -> None:
    config = RouterConfig.load(REPO / "router.yaml")

    gateway = build_gateway((REPO / "schema" / "supergraph.graphql").read_text(), config)

    assert config.headers.all is not None
    assert gateway.subgraphs
