"""The router's entity cache (router/execution/entity_cache.py) over real servers on loopback and the real
Redis.

A catalog stand-in lists products; a details stand-in resolves `Product.name` for each representation it is
sent, naming in the answer the Authorization and Cookie it was asked with (so an answer served to the wrong
user shows), and counts the representations it gets.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from edge_headers import OPS
from standin import StandIn, read_request, request_headers, supergraph

from router.execution.entity_cache import cache_control_ttl
from shared.testing import ServerThread

CATALOG_SDL = 'type Query { products: [Product!]! }\ntype Product @key(fields: "id") { id: ID! }'
DETAILS_SDL = 'type Product @key(fields: "id") { id: ID! name: String }'
PRODUCTS = {"products": [{"__typename": "Product", "id": "1"}, {"__typename": "Product", "id": "2"}]}
QUERY = "{ products { id name } }"


class Details:
    """Answers `_entities` with `name: "<id> for <authorization>"` (`"<id> for cookie <cookie>"` for a client
    with a cookie only, `"<id> for anonymous"` without either); `cache_control` is sent as its header; ids in
    `failing` get null and an error."""

    def __init__(self) -> None:
        self.cache_control: str | None = None
        self.failing: set[str] = set()
        self.representations: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = await read_request(scope, receive, send)
        if raw is None:
            return
        body = orjson.loads(raw)
        headers = request_headers(scope)
        credentials = [
            headers.get("authorization"),
            f"cookie {headers['cookie']}" if "cookie" in headers else None,
        ]
        who = " and ".join(c for c in credentials if c) or "anonymous"
        representations = (body.get("variables") or {}).get("representations") or []
        self.representations.extend(representations)
        entities: list[Any] = []
        errors = []
        for index, representation in enumerate(representations):
            if representation["id"] in self.failing:
                entities.append(None)
                errors.append({"message": "no name", "path": ["_entities", index, "name"]})
            else:
                entities.append({"name": f"{representation['id']} for {who}"})
        answer: dict[str, Any] = {"data": {"_entities": entities}}
        if errors:
            answer["errors"] = errors
        payload = orjson.dumps(answer)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
        if self.cache_control is not None:
            headers.append((b"cache-control", self.cache_control.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


class Stand:
    def __init__(self, start_router: Any) -> None:
        self.start_router = start_router
        self.catalog = StandIn(PRODUCTS)
        self.catalog_server = ServerThread(self.catalog).start()
        self.details = Details()
        self.details_server = ServerThread(self.details).start()
        self.sdl = supergraph(
            [("catalog", self.catalog_server, CATALOG_SDL), ("details", self.details_server, DETAILS_SDL)]
        )
        self.routers: list[ServerThread] = []

    def router(self, **entity_cache: Any) -> ServerThread:
        settings = {
            "enabled": True,
            "redis_url": os.environ["MYSHOP_REDIS_URL"],
            "prefix": f"{os.environ['MYSHOP_REDIS_PREFIX']}entities-{uuid.uuid4().hex[:8]}:",
            # Past the 0.1 s default a loaded machine's Redis makes the cache fail open (a miss, not a hit).
            "redis_timeout": 2.0,
            **entity_cache,
        }
        router: ServerThread = self.start_router(self.sdl, entity_cache=settings)
        self.routers.append(router)
        return router

    def stop(self) -> None:
        for server in [*self.routers, self.catalog_server, self.details_server]:
            server.stop()


@pytest.fixture(scope="module")
def shared_stand(start_router: Any) -> Iterator[Stand]:
    stand = Stand(start_router)
    yield stand
    stand.stop()


@pytest.fixture
def stand(shared_stand: Stand) -> Iterator[Stand]:
    shared_stand.details.__init__()  # type: ignore[misc]
    shared_stand.catalog.data = PRODUCTS
    yield shared_stand
    for router in shared_stand.routers:
        router.stop()
    shared_stand.routers.clear()


def products(ttl: Any = "60s", public: bool = False) -> dict[str, Any]:
    return {"subgraphs": {"details": {"types": {"Product": {"ttl": ttl, "public": public}}}}}


def ask(router: ServerThread, token: str | None = None, cookie: str | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if cookie is not None:
        headers["cookie"] = cookie
    response = httpx.post(f"{router.url}/graphql", json={"query": QUERY}, headers=headers, timeout=10)
    assert response.status_code == 200
    return response.json()


def names(body: dict[str, Any]) -> list[str | None]:
    return [product["name"] for product in body["data"]["products"]]


def test_a_second_identical_request_is_answered_from_the_cache(stand: Stand) -> None:
    router = stand.router(**products())
    first = ask(router, "ann")
    sent = len(stand.details.representations)
    second = ask(router, "ann")
    assert (
        first
        == second
        == {
            "data": {
                "products": [{"id": "1", "name": "1 for Bearer ann"}, {"id": "2", "name": "2 for Bearer ann"}]
            }
        }
    )
    assert sent == 2
    assert len(stand.details.representations) == 2
    metrics = httpx.get(f"{router.url}/metrics", headers=OPS).text
    labels = 'result="{}",service="router",subgraph="details",type="Product"'
    assert f"myshop_router_entity_cache_lookups_total{{{labels.format('hit')}}} 2.0" in metrics
    assert f"myshop_router_entity_cache_lookups_total{{{labels.format('miss')}}} 2.0" in metrics


def test_only_the_representations_missing_from_the_cache_are_fetched(stand: Stand) -> None:
    router = stand.router(**products())
    ask(router, "ann")
    stand.details.representations.clear()
    stand.catalog.data = {"products": [{"__typename": "Product", "id": i} for i in ("3", "1", "2")]}
    body = ask(router, "ann")
    assert names(body) == ["3 for Bearer ann", "1 for Bearer ann", "2 for Bearer ann"]
    assert stand.details.representations == [{"__typename": "Product", "id": "3"}]


def test_an_expired_entry_is_fetched_again(stand: Stand) -> None:
    router = stand.router(**products(ttl="1s"))
    ask(router, "ann")
    time.sleep(2.1)
    ask(router, "ann")
    assert len(stand.details.representations) == 4


def test_an_answer_marked_no_store_is_not_cached(stand: Stand) -> None:
    stand.details.cache_control = "no-store"
    router = stand.router(**products())
    ask(router, "ann")
    ask(router, "ann")
    assert len(stand.details.representations) == 4


def test_max_age_caps_the_configured_ttl(stand: Stand) -> None:
    stand.details.cache_control = "max-age=1"
    router = stand.router(**products(ttl="60m"))
    ask(router, "ann")
    ask(router, "ann")
    assert len(stand.details.representations) == 2
    time.sleep(2.1)
    ask(router, "ann")
    assert len(stand.details.representations) == 4


def test_two_users_never_share_an_entry_of_a_private_type(stand: Stand) -> None:
    router = stand.router(**products())
    assert names(ask(router, "ann")) == ["1 for Bearer ann", "2 for Bearer ann"]
    assert names(ask(router, "bob")) == ["1 for Bearer bob", "2 for Bearer bob"]
    assert names(ask(router)) == ["1 for anonymous", "2 for anonymous"]
    assert len(stand.details.representations) == 6


def test_two_clients_differing_only_by_their_cookie_never_share_an_entry_of_a_private_type(
    stand: Stand,
) -> None:
    # Given a private type cached, and two clients with no Authorization whose session cookies differ
    router = stand.router(**products())
    ann, bob = "session=ann-0001", "session=bob-0002"

    # When each asks (ann twice)
    first_ann = names(ask(router, cookie=ann))
    first_bob = names(ask(router, cookie=bob))
    again_ann = names(ask(router, cookie=ann))

    # Then each gets the answer made for their own cookie, and ann's second answer came from her entry
    assert first_ann == again_ann == ["1 for cookie session=ann-0001", "2 for cookie session=ann-0001"]
    assert first_bob == ["1 for cookie session=bob-0002", "2 for cookie session=bob-0002"]
    assert len(stand.details.representations) == 4


def test_a_public_type_is_shared_between_users(stand: Stand) -> None:
    router = stand.router(**products(public=True))
    assert names(ask(router, "ann")) == ["1 for Bearer ann", "2 for Bearer ann"]
    assert names(ask(router, "bob")) == ["1 for Bearer ann", "2 for Bearer ann"]
    assert len(stand.details.representations) == 2


def test_a_private_answer_of_a_public_type_is_not_cached(stand: Stand) -> None:
    stand.details.cache_control = "private, max-age=60"
    router = stand.router(**products(public=True))
    ask(router, "ann")
    assert names(ask(router, "bob")) == ["1 for Bearer bob", "2 for Bearer bob"]
    assert len(stand.details.representations) == 4


def test_two_routers_on_one_redis_share_the_cache(stand: Stand) -> None:
    prefix = f"{os.environ['MYSHOP_REDIS_PREFIX']}entities-{uuid.uuid4().hex[:8]}:"
    first, second = stand.router(**products(), prefix=prefix), stand.router(**products(), prefix=prefix)
    ask(first, "ann")
    assert names(ask(second, "ann")) == ["1 for Bearer ann", "2 for Bearer ann"]
    assert len(stand.details.representations) == 2


def test_an_entity_answered_with_an_error_is_not_cached(stand: Stand) -> None:
    stand.details.failing = {"2"}
    router = stand.router(**products())
    body = ask(router, "ann")
    assert names(body) == ["1 for Bearer ann", None]
    assert body["errors"][0]["path"] == ["products", 1, "name"]
    ask(router, "ann")
    assert [r["id"] for r in stand.details.representations] == ["1", "2", "2"]


def test_the_router_answers_when_redis_is_down(stand: Stand) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    router = stand.router(**products(), redis_url=f"redis://127.0.0.1:{port}/0")
    assert names(ask(router, "ann")) == ["1 for Bearer ann", "2 for Bearer ann"]
    assert names(ask(router, "ann")) == ["1 for Bearer ann", "2 for Bearer ann"]
    assert len(stand.details.representations) == 4


def test_a_type_without_a_ttl_is_not_cached(stand: Stand) -> None:
    router = stand.router(subgraphs={"details": {"types": {}}})
    ask(router, "ann")
    ask(router, "ann")
    assert len(stand.details.representations) == 4


def test_settings_naming_an_unknown_type_are_refused(stand: Stand) -> None:
    with pytest.raises(ValueError, match="Prodcut"):
        stand.router(subgraphs={"details": {"types": {"Prodcut": "60s"}}})


@pytest.mark.parametrize(
    ("header", "public", "expected"),
    [
        (None, False, 60),
        ("max-age=10", False, 10),
        ("max-age=10, s-maxage=30", True, 30),
        ("max-age=600", False, 60),
        ("no-store", False, 0),
        ("no-cache", True, 0),
        ("private, max-age=30", False, 30),
        ("private, max-age=30", True, 0),
        ("max-age=soon", False, 0),
    ],
)
def test_cache_control_sets_how_long_an_answer_is_kept(
    header: str | None, public: bool, expected: int
) -> None:
    assert cache_control_ttl(header, 60, public) == expected
