"""Persisted queries: Apollo's APQ protocol (register by hash, then send only the hash; over POST and GET;
shared through Redis) and safelist mode (only a manifest's operations run). A stand-in subgraph counts what it
is sent, so a refusal is proven to happen before any subgraph call."""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from edge_headers import PREFLIGHT
from standin import StandIn, supergraph
from ws_client import connect

from router.config import RouterConfig
from router.pipeline.edge.persisted import ManifestError
from router.server import build_gateway, create_app
from shared.testing import ServerThread

GRAPHQL_RESPONSE = "application/graphql-response+json"
LISTED = "query Listed { alpha }"
LISTED_ID = hashlib.sha256(LISTED.encode()).hexdigest()


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def fresh_query() -> str:
    """A query no router has seen (APQ registrations outlive a test in Redis)."""
    return f"query Q{uuid.uuid4().hex} {{ alpha }}"


def persisted(hash_: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": hash_}}


@pytest.fixture(scope="module")
def subgraph() -> Iterator[dict[str, Any]]:
    standin = StandIn({"alpha": "a", "beta": "b"})
    server = ServerThread(standin).start()
    sdl = supergraph([("alpha", server, "type Query { alpha: String beta: String }")])
    yield {"sdl": sdl, "standin": standin}
    server.stop()


@pytest.fixture(scope="module")
def router(subgraph: dict[str, Any], start_router: Any) -> ServerThread:
    return start_router(subgraph["sdl"])


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("safelist") / "manifest.json"
    operations = [{"id": LISTED_ID, "name": "Listed", "type": "query", "body": LISTED}]
    path.write_bytes(
        orjson.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations})
    )
    return path


@pytest.fixture(scope="module")
def safelisted(subgraph: dict[str, Any], manifest: Path, start_router: Any) -> ServerThread:
    return start_router(subgraph["sdl"], persisted_queries={"safelist": str(manifest)})


async def post(
    server: ServerThread, body: dict[str, Any], accept: str = "application/json"
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{server.url}/graphql", json=body, headers={"accept": accept})


async def get(server: ServerThread, **params: Any) -> httpx.Response:
    query = {
        key: value if isinstance(value, str) else orjson.dumps(value).decode()
        for key, value in params.items()
    }
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(
            f"{server.url}/graphql", params=query, headers={"accept": "application/json", **PREFLIGHT}
        )


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json().get("errors", [])]


# --- APQ ----------------------------------------------------------------------------------------------------


async def test_an_unknown_hash_answers_persisted_query_not_found_uncached(
    router: ServerThread, subgraph: dict[str, Any]
) -> None:
    sent = len(subgraph["standin"].received)

    response = await post(router, {"extensions": persisted(sha(fresh_query()))})

    assert response.status_code == 200
    assert response.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }
    assert "no-cache" in response.headers["cache-control"]
    assert len(subgraph["standin"].received) == sent


async def test_a_query_sent_with_its_hash_runs_and_is_then_known_by_the_hash_alone(
    router: ServerThread,
) -> None:
    query = fresh_query()

    registered = await post(router, {"query": query, "extensions": persisted(sha(query))})
    by_hash = await post(router, {"extensions": persisted(sha(query))})

    assert registered.json() == {"data": {"alpha": "a"}}
    assert by_hash.json() == {"data": {"alpha": "a"}}


async def test_a_hash_that_does_not_match_its_query_is_refused(
    router: ServerThread, subgraph: dict[str, Any]
) -> None:
    sent = len(subgraph["standin"].received)
    query = fresh_query()

    response = await post(
        router, {"query": query, "extensions": persisted(sha("{ beta }"))}, GRAPHQL_RESPONSE
    )

    assert response.status_code == 400
    assert codes(response) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert len(subgraph["standin"].received) == sent
    assert codes(await post(router, {"extensions": persisted(sha("{ beta }"))})) == [
        "PERSISTED_QUERY_NOT_FOUND"
    ]


async def test_a_persisted_query_registers_and_runs_over_get(router: ServerThread) -> None:
    query = fresh_query()

    missing = await get(router, extensions=persisted(sha(query)))
    registered = await get(router, query=query, extensions=persisted(sha(query)))
    by_hash = await get(router, extensions=persisted(sha(query)))

    assert codes(missing) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert registered.json() == {"data": {"alpha": "a"}}
    assert by_hash.status_code == 200
    assert by_hash.json() == {"data": {"alpha": "a"}}


@pytest.mark.parametrize(
    "extensions",
    [
        persisted("abc", version=2),
        {"persistedQuery": "abc"},
        {"persistedQuery": {"version": 1, "sha256Hash": 7}},
    ],
    ids=["version 2", "not an object", "hash not a string"],
)
async def test_a_malformed_persisted_query_extension_is_a_bad_request(
    router: ServerThread, extensions: dict[str, Any]
) -> None:
    response = await post(router, {"extensions": extensions}, GRAPHQL_RESPONSE)

    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


async def test_a_hash_alone_with_variables_that_are_not_an_object_is_a_bad_request(
    router: ServerThread,
) -> None:
    response = await post(
        router, {"extensions": persisted(sha(fresh_query())), "variables": [1]}, GRAPHQL_RESPONSE
    )

    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


async def test_with_apq_off_a_hash_alone_is_not_supported_and_a_full_query_still_runs(
    subgraph: dict[str, Any], start_router: Any
) -> None:
    server = start_router(subgraph["sdl"], persisted_queries={"apq": False})
    try:
        query = fresh_query()
        registered = await post(server, {"query": query, "extensions": persisted(sha(query))})
        by_hash = await post(server, {"extensions": persisted(sha(query))})
    finally:
        server.stop()

    assert registered.json() == {"data": {"alpha": "a"}}
    assert codes(by_hash) == ["PERSISTED_QUERY_NOT_SUPPORTED"]


async def test_a_query_registered_with_one_router_is_known_to_another_through_redis(
    subgraph: dict[str, Any], redis: Any, start_router: Any
) -> None:
    shared = {
        "redis_url": os.environ["MYSHOP_REDIS_URL"],
        "redis_key_prefix": f"{os.environ['MYSHOP_REDIS_PREFIX']}apq:",
    }
    first = start_router(subgraph["sdl"], persisted_queries=shared)
    second = start_router(subgraph["sdl"], persisted_queries=shared)
    try:
        query = fresh_query()
        registered = await post(first, {"query": query, "extensions": persisted(sha(query))})
        elsewhere = await post(second, {"extensions": persisted(sha(query))})
    finally:
        first.stop()
        second.stop()

    assert registered.json() == {"data": {"alpha": "a"}}
    assert elsewhere.json() == {"data": {"alpha": "a"}}
    assert await redis.ttl(f"{shared['redis_key_prefix']}{sha(query)}") > 0


async def test_with_redis_down_registrations_still_run_and_stay_in_the_router(
    subgraph: dict[str, Any], start_router: Any
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    server = start_router(subgraph["sdl"], persisted_queries={"redis_url": closed})
    try:
        query = fresh_query()
        unknown = await post(server, {"extensions": persisted(sha(fresh_query()))})
        registered = await post(server, {"query": query, "extensions": persisted(sha(query))})
        by_hash = await post(server, {"extensions": persisted(sha(query))})
    finally:
        server.stop()

    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert registered.json() == {"data": {"alpha": "a"}}
    assert by_hash.json() == {"data": {"alpha": "a"}}


# --- safelist -----------------------------------------------------------------------------------------------


async def test_safelist_runs_a_listed_operation_named_by_its_hash(safelisted: ServerThread) -> None:
    response = await post(safelisted, {"extensions": persisted(LISTED_ID)})

    assert response.json() == {"data": {"alpha": "a"}}


async def test_safelist_runs_a_listed_operation_named_by_document_id(safelisted: ServerThread) -> None:
    by_post = await post(safelisted, {"documentId": f"sha256:{LISTED_ID}"})
    by_get = await get(safelisted, documentId=LISTED_ID)

    assert by_post.json() == by_get.json() == {"data": {"alpha": "a"}}


async def test_safelist_runs_a_body_equal_to_a_listed_one(safelisted: ServerThread) -> None:
    response = await post(safelisted, {"query": LISTED})

    assert response.json() == {"data": {"alpha": "a"}}


async def test_safelist_refuses_an_unlisted_query_before_any_subgraph_call(
    safelisted: ServerThread, subgraph: dict[str, Any]
) -> None:
    sent = len(subgraph["standin"].received)

    response = await post(safelisted, {"query": "query Listed { alpha beta }"}, GRAPHQL_RESPONSE)

    assert response.status_code == 400
    assert codes(response) == ["PERSISTED_QUERY_NOT_IN_LIST"]
    assert len(subgraph["standin"].received) == sent


async def test_safelist_refuses_an_unknown_id(safelisted: ServerThread) -> None:
    response = await post(safelisted, {"extensions": persisted(sha("{ beta }"))})

    assert codes(response) == ["PERSISTED_QUERY_NOT_IN_LIST"]


async def test_safelist_refuses_a_listed_id_sent_with_another_query(safelisted: ServerThread) -> None:
    response = await post(safelisted, {"query": "{ beta }", "extensions": persisted(LISTED_ID)})

    assert codes(response) == ["PERSISTED_QUERY_NOT_IN_LIST"]


async def test_safelist_mode_registers_no_apq_query(safelisted: ServerThread) -> None:
    query = fresh_query()

    registering = await post(safelisted, {"query": query, "extensions": persisted(sha(query))})
    by_hash = await post(safelisted, {"extensions": persisted(sha(query))})

    assert codes(registering) == ["PERSISTED_QUERY_NOT_IN_LIST"]
    assert codes(by_hash) == ["PERSISTED_QUERY_NOT_IN_LIST"]


async def test_safelist_covers_operations_over_websocket(
    safelisted: ServerThread, subgraph: dict[str, Any]
) -> None:
    sent = len(subgraph["standin"].received)
    async with aiohttp.ClientSession() as http:
        ws = await connect(http, safelisted)
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ beta }"}})
        refused = await ws.until_complete("1")
        await ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": LISTED}})
        listed = await ws.until_complete("2")
        await ws.close()

    assert [frame["type"] for frame in refused] == ["error"]
    assert refused[0]["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert [frame["type"] for frame in listed] == ["next", "complete"]
    assert listed[0]["payload"] == {"data": {"alpha": "a"}}
    assert len(subgraph["standin"].received) == sent + 1


async def test_a_plain_id_to_body_manifest_is_a_safelist_too(
    subgraph: dict[str, Any], tmp_path: Path, start_router: Any
) -> None:
    path = tmp_path / "relay.json"
    path.write_bytes(orjson.dumps({"listed-1": "{ beta }"}))
    server = start_router(subgraph["sdl"], persisted_queries={"safelist": str(path)})
    try:
        listed = await post(server, {"documentId": "listed-1"})
        unlisted = await post(server, {"query": "{ alpha }"})
    finally:
        server.stop()

    assert listed.json() == {"data": {"beta": "b"}}
    assert codes(unlisted) == ["PERSISTED_QUERY_NOT_IN_LIST"]


@pytest.mark.parametrize(
    "content",
    [b"not json", b'{"format": "something-else", "version": 1, "operations": []}', b"[1, 2]"],
    ids=["not json", "another format", "a list"],
)
def test_a_manifest_that_is_not_one_stops_the_router_from_starting(
    subgraph: dict[str, Any], tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(content)
    config = RouterConfig(graphiql=False, persisted_queries={"safelist": str(path)})

    with pytest.raises(ManifestError):
        create_app(build_gateway(subgraph["sdl"], config), config)
