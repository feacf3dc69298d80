"""The client address the router computes (router/http/client_address.py, shared/client_address.py) and the
`X-Forwarded-For` it sends every subgraph: the rule itself, the header rules that cannot pass or set the
client's own, and over real loopback source addresses (127.0.0.2, 127.0.0.3) a stand-in subgraph that records
what it gets, the deduplication of identical queries of two clients, and the router's rate limit per address.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from standin import StandIn, supergraph

from router.http.client_address import ClientAddresses
from router.upstream.headers import HeaderPropagation
from shared.client_address import TrustedPeers
from shared.testing import ServerThread

# --- the rule -------------------------------------------------------------------------------------------

TRUSTED = ["127.0.0.1", "::1", "10.0.0.0/8"]


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.1", None, "203.0.113.1"),  # no proxy: the peer
        ("203.0.113.1", "198.51.100.1", "203.0.113.1"),  # an untrusted peer's header proves nothing
        ("127.0.0.1", None, "127.0.0.1"),  # a trusted peer without a header is the client
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "192.0.2.1, 198.51.100.1", "198.51.100.1"),  # the left hop is the client's own claim
        ("127.0.0.1", "192.0.2.1, 198.51.100.1, 10.1.1.1", "198.51.100.1"),  # through a second trusted proxy
        ("127.0.0.1", "10.2.2.2, 10.1.1.1", "10.2.2.2"),  # every hop trusted: the left-most
        ("127.0.0.1", "198.51.100.1, garbage", "127.0.0.1"),  # garbage stops the walk at the last believed
        ("127.0.0.1", "198.51.100.1:5678", "198.51.100.1"),  # a port is not part of the address
        ("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:127.0.0.1", "::ffff:198.51.100.1", "198.51.100.1"),  # IPv4-mapped is IPv4
        ("::1", "unknown", "::1"),
        (None, "198.51.100.1", "unknown"),
    ],
)
def test_the_client_is_the_right_most_untrusted_hop_of_a_trusted_peer(
    peer: str | None, forwarded: str | None, client: str
) -> None:
    assert TrustedPeers(TRUSTED).client_address(peer, forwarded) == client


def test_a_long_chain_of_trusted_looking_hops_is_not_walked_to_its_end() -> None:
    forged = ", ".join(["192.0.2.9"] + ["10.0.0.1"] * 10_000)
    assert TrustedPeers(TRUSTED).client_address("127.0.0.1", forged) == "10.0.0.1"


def test_a_bad_trusted_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="not-an-address"):
        TrustedPeers(["10.0.0.0/8", "not-an-address"])


def scope(peer: str | None, *forwarded: bytes) -> dict[str, Any]:
    return {
        "client": (peer, 5000) if peer else None,
        "headers": [(b"x-forwarded-for", value) for value in forwarded],
    }


def test_the_door_reads_every_forwarded_for_line_of_a_trusted_proxy_and_none_of_anyone_else() -> None:
    behind_proxy = ClientAddresses(["127.0.0.4"])

    assert behind_proxy.of(scope("127.0.0.4", b"192.0.2.1", b"198.51.100.1")) == "198.51.100.1"
    assert behind_proxy.of(scope("127.0.0.5", b"198.51.100.1")) == "127.0.0.5"
    assert ClientAddresses().of(scope("127.0.0.4", b"198.51.100.1")) == "127.0.0.4"
    assert ClientAddresses().of(scope(None)) == "unknown"


# --- the header the subgraphs get -----------------------------------------------------------------------


def test_no_header_rule_passes_the_clients_forwarded_for() -> None:
    everything = HeaderPropagation({"all": {"request": [{"propagate": {"matching": "."}}]}})
    renamed = HeaderPropagation(
        {"all": {"request": [{"propagate": {"named": "x-real-ip", "rename": "x-myshop-real-ip"}}]}}
    )
    client = {"x-forwarded-for": "127.0.0.2", "x-real-ip": "1.2.3.4", "authorization": "Bearer t"}

    assert everything.for_subgraph("users", client)["x-forwarded-for"] == "127.0.0.2"
    assert renamed.for_subgraph("users", client)["x-forwarded-for"] == "127.0.0.2"
    assert "x-forwarded-for" not in everything.for_subgraph("users", {"authorization": "Bearer t"})


@pytest.mark.parametrize(
    "rule",
    [
        {"insert": {"name": "X-Forwarded-For", "value": "10.0.0.1"}},
        {"propagate": {"named": "x-real-ip", "rename": "x-forwarded-for"}},
        {"propagate": {"named": "x-forwarded-for", "default": "10.0.0.1"}},
    ],
)
def test_a_rule_that_would_set_forwarded_for_is_refused(rule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="sets X-Forwarded-For itself"):
        HeaderPropagation({"all": {"request": [rule]}})


# --- through a router -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[StandIn, ServerThread]]:
    standin = StandIn({"report": "ready"}, slow={"report": 0.3})
    server = ServerThread(standin).start()
    yield standin, server
    server.stop()


@pytest.fixture
def router(shop: tuple[StandIn, ServerThread], start_router: Any) -> Any:
    """`router(**config)`: a router over the stand-in, its recordings cleared."""
    standin, server = shop
    standin.received.clear()
    sdl = supergraph([("shop", server, "type Query { report: String }")])
    return lambda **config: start_router(sdl, **config)


@pytest.fixture
async def client_from() -> AsyncIterator[Any]:
    """`client_from(address, router)`: an HTTP client of `router` leaving from that loopback address."""
    clients: list[httpx.AsyncClient] = []

    def make(address: str, router: ServerThread) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        clients.append(httpx.AsyncClient(base_url=router.url, transport=transport, timeout=10))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


async def report(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": "{ report }"}, headers=headers)


async def test_the_subgraph_gets_the_client_address_never_the_clients_header(
    shop: tuple[StandIn, ServerThread], router: Any, client_from: Any
) -> None:
    served = router()
    forged = await report(client_from("127.0.0.2", served), **{"X-Forwarded-For": "198.51.100.1"})
    plain = await report(client_from("127.0.0.3", served))

    assert (forged.status_code, plain.status_code) == (200, 200)
    assert sorted(received.headers["x-forwarded-for"] for received in shop[0].received) == [
        "127.0.0.2",
        "127.0.0.3",
    ]


async def test_behind_a_trusted_proxy_the_subgraph_gets_the_hop_the_proxy_saw(
    shop: tuple[StandIn, ServerThread], router: Any, client_from: Any
) -> None:
    served = router(trusted_proxies=["127.0.0.4"])
    await report(client_from("127.0.0.4", served), **{"X-Forwarded-For": "192.0.2.1, 198.51.100.1"})

    assert [received.headers["x-forwarded-for"] for received in shop[0].received] == ["198.51.100.1"]


async def test_identical_queries_of_two_clients_still_share_one_fetch(
    shop: tuple[StandIn, ServerThread], router: Any, client_from: Any
) -> None:
    served = router()
    first, second = client_from("127.0.0.2", served), client_from("127.0.0.3", served)

    answers = await asyncio.gather(*(report(client) for client in (first, second, first, second)))

    assert [answer.json() for answer in answers] == [{"data": {"report": "ready"}}] * 4
    assert len(shop[0].received) == 1


async def test_the_router_rate_limit_counts_the_address_not_the_header(router: Any, client_from: Any) -> None:
    prefix = f"{os.environ['MYSHOP_REDIS_PREFIX']}router-{uuid.uuid4().hex[:8]}:"
    limit = {
        "enabled": True,
        "requests": 3,
        "redis_url": os.environ["MYSHOP_REDIS_URL"],
        "key_prefix": prefix,
    }
    served = router(rate_limit={**limit, "window_seconds": 60})
    rotating, other = client_from("127.0.0.2", served), client_from("127.0.0.3", served)

    statuses = [(await report(rotating, **{"X-Forwarded-For": f"192.0.2.{n}"})).status_code for n in range(5)]
    elsewhere = await report(other)

    assert statuses == [200, 200, 200, 429, 429]
    assert elsewhere.status_code == 200
