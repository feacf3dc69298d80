"""File uploads through the router (the GraphQL multipart request spec): a client's files reach the subgraph
whose field takes them as a multipart request of the same spec, intact; limits, malformed requests, batches,
CSRF and uploads turned off answer coded errors; a file two fetches send, or one a fetch needs before the
file ahead of it, still arrives whole."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from edge_headers import PREFLIGHT
from eventually import eventually
from pydantic import ValidationError
from upload_standin import MULTIPART, SUPERGRAPH, UploadStandIn, multipart

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

KiB = 1024
LIMITS = {"enabled": True, "max_file_size": 256 * KiB, "max_files": 3, "max_request_size": 1024 * KiB}
UPLOAD = "mutation Up($file: Upload!) { upload(file: $file) { sha256 size filename contentType } }"
DIGEST = "{ sha256 size }"


@pytest.fixture(scope="module")
def standins() -> Iterator[dict[str, tuple[UploadStandIn, ServerThread]]]:
    started = {name: UploadStandIn() for name in ("files", "media")}
    servers = {name: (app, ServerThread(app).start()) for name, app in started.items()}
    yield servers
    for _, server in servers.values():
        server.stop()


def _urls(standins: dict[str, tuple[UploadStandIn, ServerThread]]) -> dict[str, str]:
    return {name: f"{server.url}/graphql" for name, (_, server) in standins.items()}


@pytest.fixture(scope="module")
def router(standins: Any, start_router: Callable[..., ServerThread]) -> ServerThread:
    # One failed fetch opens a subgraph's breaker: a client's fault counted against it would show at once.
    breaker = {"all": {"breaker": {"failures": 1}}}
    return start_router(SUPERGRAPH, subgraph_urls=_urls(standins), uploads=LIMITS, traffic=breaker)


@pytest.fixture
async def client(router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=10) as http:
        yield http


@pytest.fixture(autouse=True)
def _forget(standins: dict[str, tuple[UploadStandIn, ServerThread]]) -> None:
    for app, _ in standins.values():
        app.received.clear()


async def post(client: httpx.AsyncClient, body: Iterator[bytes], **headers: str) -> httpx.Response:
    return await client.post(
        "/graphql", content=b"".join(body), headers={"content-type": MULTIPART, **PREFLIGHT, **headers}
    )


def one_file(name: str, data: bytes, filename: str = "photo.jpg") -> tuple[str, str, str, list[bytes]]:
    return (name, filename, "image/jpeg", [data[i : i + 50_000] for i in range(0, len(data), 50_000)])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


async def test_a_file_reaches_the_subgraph_intact_as_a_multipart_request(
    client: httpx.AsyncClient, standins: dict[str, tuple[UploadStandIn, ServerThread]]
) -> None:
    data = os.urandom(200 * KiB)
    body = multipart(
        {"query": UPLOAD, "variables": {"file": None}}, {"0": ["variables.file"]}, [one_file("0", data)]
    )

    response = await post(client, body)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "data": {
            "upload": {
                "sha256": sha(data),
                "size": len(data),
                "filename": "photo.jpg",
                "contentType": "image/jpeg",
            }
        }
    }
    [got] = standins["files"][0].received
    assert got.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert got.headers["apollo-require-preflight"] == "true"
    assert got.operations["variables"] == {"file": None}
    assert got.map == {"0": ["variables.file"]}
    assert got.parts == ["operations", "map", "0"]


async def test_a_list_of_files_reaches_the_subgraph_in_order(client: httpx.AsyncClient) -> None:
    first, second = os.urandom(10 * KiB), os.urandom(20 * KiB)
    body = multipart(
        {"query": f"mutation($files: [Upload!]!) {{ uploadMany(files: $files) {DIGEST} }}",
         "variables": {"files": [None, None]}},
        {"a": ["variables.files.0"], "b": ["variables.files.1"]},
        [one_file("a", first), one_file("b", second)],
    )  # fmt: skip

    response = await post(client, body)

    assert response.json() == {
        "data": {
            "uploadMany": [
                {"sha256": sha(first), "size": 10 * KiB},
                {"sha256": sha(second), "size": 20 * KiB},
            ]
        }
    }


async def test_a_file_two_subgraphs_take_reaches_both(
    client: httpx.AsyncClient, standins: dict[str, tuple[UploadStandIn, ServerThread]]
) -> None:
    data = os.urandom(100 * KiB)
    body = multipart(
        {"query": f"mutation($f: Upload!) {{ upload(file: $f) {DIGEST} attach(file: $f) {DIGEST} }}",
         "variables": {"f": None}},
        {"0": ["variables.f"]},
        [one_file("0", data)],
    )  # fmt: skip

    response = await post(client, body)

    digest = {"sha256": sha(data), "size": len(data)}
    assert response.json() == {"data": {"upload": digest, "attach": digest}}
    assert [len(app.received) for app, _ in standins.values()] == [1, 1]


async def test_a_fetch_needing_the_later_file_first_gets_both_in_place(client: httpx.AsyncClient) -> None:
    """The mutation's first fetch (files) takes the body's second file; the first waits on disk for media."""
    a, b = os.urandom(30 * KiB), os.urandom(40 * KiB)
    body = multipart(
        {"query": f"mutation($a: Upload!, $b: Upload!) {{ upload(file: $b) {DIGEST}"
                  f" attach(file: $a) {DIGEST} }}",
         "variables": {"a": None, "b": None}},
        {"0": ["variables.a"], "1": ["variables.b"]},
        [one_file("0", a), one_file("1", b)],
    )  # fmt: skip

    response = await post(client, body)

    assert response.json() == {
        "data": {"upload": {"sha256": sha(b), "size": len(b)}, "attach": {"sha256": sha(a), "size": len(a)}}
    }


async def test_a_file_over_the_limit_answers_413_upload_too_large(
    client: httpx.AsyncClient, standins: dict[str, tuple[UploadStandIn, ServerThread]]
) -> None:
    data = os.urandom(300 * KiB)  # max_file_size: 256 KiB
    body = multipart(
        {"query": UPLOAD, "variables": {"file": None}}, {"0": ["variables.file"]}, [one_file("0", data)]
    )

    response = await post(client, body)

    assert response.status_code == 413
    assert code(response) == "UPLOAD_TOO_LARGE"
    # The subgraph's breaker (open after one failure here) does not count the client's fault.
    small = os.urandom(KiB)
    again = multipart(
        {"query": UPLOAD, "variables": {"file": None}}, {"0": ["variables.file"]}, [one_file("0", small)]
    )
    assert (await post(client, again)).json()["data"]["upload"]["sha256"] == sha(small)


async def test_a_client_gone_mid_file_aborts_the_subgraph_request_without_counting_against_it(
    client: httpx.AsyncClient, router: ServerThread, standins: dict[str, tuple[UploadStandIn, ServerThread]]
) -> None:
    data = os.urandom(200 * KiB)
    operations = {"query": UPLOAD, "variables": {"file": None}}
    body = b"".join(multipart(operations, {"0": ["variables.file"]}, [one_file("0", data)]))
    app = standins["files"][0]
    app.started = app.aborted = 0
    _, writer = await asyncio.open_connection("127.0.0.1", router.port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nhost: router\r\napollo-require-preflight: 1\r\n"
        b"content-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (MULTIPART.encode(), len(body), body[:100_000])
    )
    await eventually(lambda: app.started, within=5, what="the upload reaching the subgraph")

    writer.close()

    await eventually(lambda: app.aborted, within=5, what="the subgraph request aborted")
    assert app.received == []
    again = multipart(operations, {"0": ["variables.file"]}, [one_file("0", data)])
    assert (await post(client, again)).json()["data"]["upload"]["sha256"] == sha(data)


async def test_a_request_declaring_more_than_the_total_answers_413_before_it_is_read(
    router: ServerThread,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", router.port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nhost: router\r\napollo-require-preflight: 1\r\n"
        b"content-type: %s\r\ncontent-length: %d\r\n\r\n" % (MULTIPART.encode(), 2048 * KiB)
    )  # max_request_size: 1 MiB; no byte of the body sent

    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    body = await reader.read(1000)
    writer.close()

    assert head.startswith(b"HTTP/1.1 413 ")
    assert b'"code":"UPLOAD_TOO_LARGE"' in body


async def test_more_files_than_allowed_answer_413_upload_too_many_files(
    client: httpx.AsyncClient, standins: dict[str, tuple[UploadStandIn, ServerThread]]
) -> None:
    body = multipart(
        {"query": f"mutation($files: [Upload!]!) {{ uploadMany(files: $files) {DIGEST} }}",
         "variables": {"files": [None] * 4}},
        {str(i): [f"variables.files.{i}"] for i in range(4)},
        [one_file(str(i), b"x") for i in range(4)],
    )  # fmt: skip

    response = await post(client, body)

    assert (response.status_code, code(response)) == (413, "UPLOAD_TOO_MANY_FILES")
    assert standins["files"][0].received == []


@pytest.mark.parametrize(
    ("operations", "mapping", "files"),
    [
        pytest.param({"query": UPLOAD, "variables": {"file": None}}, b"{not json", [], id="map-not-json"),
        pytest.param(
            {"query": UPLOAD, "variables": {"file": "x"}}, {"0": ["variables.file"]}, [], id="not-null"
        ),
        pytest.param(
            {"query": UPLOAD, "variables": {}}, {"0": ["variables.file"]}, [], id="no-such-variable"
        ),
        pytest.param(
            {"query": UPLOAD, "variables": {"file": None}}, {"0": ["query"]}, [], id="outside-variables"
        ),
        pytest.param(
            {"query": UPLOAD, "variables": {"file": None}}, {"0": ["variables.file"]}, [], id="no-file"
        ),
    ],
)
async def test_a_malformed_multipart_request_answers_400_bad_request(
    client: httpx.AsyncClient, operations: Any, mapping: Any, files: Any
) -> None:
    response = await post(client, multipart(operations, mapping, files))

    assert (response.status_code, code(response)) == (400, "BAD_REQUEST")


async def test_a_body_cut_short_answers_400_bad_request(client: httpx.AsyncClient) -> None:
    body = b"".join(multipart({"query": UPLOAD, "variables": {"file": None}}, {"0": ["variables.file"]}, []))

    response = await post(client, iter([body[: body.index(b"--test-boundary-7c1e--")]]))

    assert (response.status_code, code(response)) == (400, "BAD_REQUEST")


async def test_a_batch_with_files_is_refused(client: httpx.AsyncClient) -> None:
    body = multipart([{"query": UPLOAD, "variables": {"file": None}}], {"0": ["0.variables.file"]}, [])

    response = await post(client, body)

    assert (response.status_code, code(response)) == (400, "UPLOAD_BATCH_NOT_SUPPORTED")


async def test_a_multipart_post_without_a_preflight_header_is_refused_as_csrf(
    router: ServerThread, standins: dict[str, tuple[UploadStandIn, ServerThread]]
) -> None:
    data = os.urandom(KiB)
    body = multipart(
        {"query": UPLOAD, "variables": {"file": None}}, {"0": ["variables.file"]}, [one_file("0", data)]
    )
    async with httpx.AsyncClient(base_url=router.url) as http:
        response = await http.post("/graphql", content=b"".join(body), headers={"content-type": MULTIPART})

    assert (response.status_code, code(response)) == (400, "CSRF_ERROR")
    assert standins["files"][0].received == []


async def test_uploads_turned_off_answer_415_uploads_disabled(standins: Any) -> None:
    config = RouterConfig(graphiql=False, subgraph_urls=_urls(standins))  # uploads: off by default
    app = create_app(build_gateway(SUPERGRAPH, config), config)
    body = multipart({"query": UPLOAD, "variables": {"file": None}}, {"0": ["variables.file"]}, [])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://router") as http:
        response = await post(http, body)
    await app.pipeline.close()

    assert (response.status_code, code(response)) == (415, "UPLOADS_DISABLED")


@pytest.mark.parametrize(
    "uploads",
    [{"max_file_sise": 1}, {"max_file_size": 2 * KiB, "max_request_size": KiB}, {"max_files": 0}],
    ids=["misspelt", "file-over-total", "no-files"],
)
def test_uploads_settings_that_cannot_work_fail_the_start(uploads: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        RouterConfig(uploads=uploads)
