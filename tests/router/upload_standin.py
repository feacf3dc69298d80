"""A stand-in subgraph that takes uploads (the GraphQL multipart request spec), as issue 17's product images
will: each file streams through python-multipart's parser into a sha256, and each root field answers the
digest, size, name and type of the file(s) its argument's variable holds. It keeps what it got: the headers,
the `operations` and `map` parts, the parts' names in order. Also a client's multipart body, streamed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from graphql import FieldNode, OperationDefinitionNode, VariableNode, parse
from python_multipart.multipart import MultipartParser, parse_options_header
from standin import read_request, request_headers, respond

UPLOAD_SDL = """
scalar Upload
type FileDigest { sha256: String! size: Int! filename: String contentType: String }
type Query { ping: String }
type Mutation {
  upload(file: Upload!): FileDigest!
  uploadMany(files: [Upload!]!): [FileDigest!]!
}
"""
MEDIA_SDL = """
scalar Upload
type MediaDigest { sha256: String! size: Int! }
type Query { mediaPing: String }
type Mutation { attach(file: Upload!): MediaDigest! }
"""


# @apollo/composition's supergraph of the two (files, media), kept beside this file: composing takes seconds.
# Regenerate: shared.composition.compose([("files", url, FEDERATION + UPLOAD_SDL), ("media", url,
# FEDERATION + MEDIA_SDL)]); tests point it at their servers with `subgraph_urls`.
SUPERGRAPH = (Path(__file__).resolve().parent / "upload_supergraph.graphql").read_text()
BOUNDARY = "test-boundary-7c1e"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(
    operations: Any, mapping: Any, files: Sequence[tuple[str, str, str, Iterable[bytes]]] = ()
) -> Iterator[bytes]:
    """A client's multipart request body, streamed: `operations` and `map` (JSON unless bytes), then each
    `(name, filename, content type, chunks)`."""
    dash = b"--" + BOUNDARY.encode()
    for name, value in (("operations", operations), ("map", mapping)):
        data = value if isinstance(value, bytes) else orjson.dumps(value)
        yield dash + b'\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name.encode(), data)
    for name, filename, content_type, chunks in files:
        yield (
            dash
            + b'\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\nContent-Type: %s\r\n\r\n'
            % (
                name.encode(),
                filename.encode(),
                content_type.encode(),
            )
        )
        yield from chunks
        yield b"\r\n"
    yield dash + b"--\r\n"


@dataclass
class Uploaded:
    headers: dict[str, str]
    operations: dict[str, Any]
    map: dict[str, list[str]]
    parts: list[str]  # the part names in the order they came


@dataclass
class UploadStandIn:
    received: list[Uploaded] = field(default_factory=list)
    started: int = 0  # uploads whose request has begun
    aborted: int = 0  # uploads whose connection closed before the body's end

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await read_request(scope, receive, send)
            return
        headers = request_headers(scope)
        kind, options = parse_options_header(headers.get("content-type", ""))
        if kind != b"multipart/form-data":
            await read_request(scope, receive, send)
            await respond(send, orjson.dumps({"data": {"ping": "pong", "mediaPing": "pong"}}))
            return
        self.started += 1
        parsed = await _parse(receive, options[b"boundary"])
        if parsed is None:
            self.aborted += 1
            return
        operations = orjson.loads(parsed.fields["operations"])
        mapping = orjson.loads(parsed.fields["map"])
        self.received.append(Uploaded(headers, operations, mapping, parsed.order))
        at_path = {
            tuple(path.split(".")[1:]): parsed.files.get(key)
            for key, paths in mapping.items()
            for path in paths
        }
        await respond(send, orjson.dumps({"data": _answer(operations, at_path)}))


@dataclass
class _Parsed:
    fields: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


async def _parse(receive: Any, boundary: bytes) -> _Parsed | None:
    parsed = _Parsed()
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b""}

    def header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"] = state["value"] = b""

    def headers_done() -> None:
        _, options = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = options[b"name"].decode()
        parsed.order.append(name)
        state["name"] = name
        if b"filename" in options:
            state["file"] = parsed.files[name] = {
                "hash": hashlib.sha256(),
                "size": 0,
                "filename": options[b"filename"].decode(),
                "contentType": state["headers"].get(b"content-type", b"").decode(),
            }
        else:
            state["file"] = None
            parsed.fields[name] = b""

    def data(chunk: bytes, start: int, end: int) -> None:
        file = state["file"]
        if file is None:
            parsed.fields[state["name"]] += chunk[start:end]
        else:
            file["hash"].update(chunk[start:end])
            file["size"] += end - start

    def begin() -> None:
        state["headers"] = {}

    def header_field(chunk: bytes, start: int, end: int) -> None:
        state["field"] += chunk[start:end]

    def header_value(chunk: bytes, start: int, end: int) -> None:
        state["value"] += chunk[start:end]

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": begin,
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_headers_finished": headers_done,
            "on_part_data": data,
        },
    )
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None  # the router gave up on the request before its end
        parser.write(message.get("body", b""))
        if not message.get("more_body"):
            break
    parser.finalize()
    return parsed


def _digest(file: dict[str, Any] | None) -> dict[str, Any] | None:
    if file is None:
        return None
    return {
        "sha256": file["hash"].hexdigest(),
        "size": file["size"],
        "filename": file["filename"],
        "contentType": file["contentType"],
    }


def _answer(operations: dict[str, Any], at_path: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    """Each root field's answer: the digest of the file its argument's variable holds (a list's, each)."""
    document = parse(operations["query"])
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    variables = operations.get("variables") or {}
    data: dict[str, Any] = {}
    for selection in operation.selection_set.selections:
        assert isinstance(selection, FieldNode)
        key = (selection.alias or selection.name).value
        argument = selection.arguments[0].value if selection.arguments else None
        if not isinstance(argument, VariableNode):
            data[key] = "pong" if selection.name.value.endswith("ing") else None
            continue
        name = argument.name.value
        value = variables.get(name)
        if isinstance(value, list):
            data[key] = [_digest(at_path.get((name, str(i)))) for i in range(len(value))]
        else:
            data[key] = _digest(at_path.get((name,)))
    return data
