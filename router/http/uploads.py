"""The multipart door (the GraphQL multipart request spec): a `multipart/form-data` POST whose `operations`
part is the GraphQL request, whose `map` part says which variables the files fill, and whose file parts
follow. The door reads `operations` and `map` only; the request then runs through the pipeline like a JSON
POST (CSRF, persisted queries, auth, rate limit, validation: each file's variable holds a placeholder
string, as the spec's null would fail an `Upload!`), and the files stay unread in the client's connection
until a fetch sends them on (router/upstream/uploads.py): each file streams from the client to its
subgraph, never held whole.

The parts arrive in the client's order, the fetches run in the plan's. A file goes straight through when one
fetch sends it and it is next in the body. It is kept in a temporary file on disk when more than one fetch
sends it, or when a fetch needs a file behind it (the ones before are read to disk on the way). Parsing is
python-multipart's streaming parser (measured: 50 MB in 0.10 s, half of what hashing it takes)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import orjson
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from router.http.asgi import ClientGone, Receive
from router.pipeline.edge.limits import RequestSizeLimit
from router.pipeline.errors import BAD_REQUEST, MalformedRequest, RequestError
from router.upstream.uploads import UploadsConfig

UPLOADS_DISABLED = "UPLOADS_DISABLED"
UPLOAD_TOO_LARGE = "UPLOAD_TOO_LARGE"
UPLOAD_TOO_MANY_FILES = "UPLOAD_TOO_MANY_FILES"
UPLOAD_BATCH_NOT_SUPPORTED = "UPLOAD_BATCH_NOT_SUPPORTED"
CLIENT_CLOSED_REQUEST = "CLIENT_CLOSED_REQUEST"

MULTIPART = "multipart/form-data"
_CHUNK = 256 * 1024  # read from a file kept on disk this much at a time
_PART, _DATA, _PART_END = 0, 1, 2


@lru_cache(maxsize=64)
def is_multipart(content_type: str) -> bool:
    """Asked of every POST: cached per distinct Content-Type, like the door's other header parsing."""
    return content_type.split(";", 1)[0].strip().lower() == MULTIPART


def _malformed(message: str) -> MalformedRequest:
    return MalformedRequest.of(f"malformed multipart request: {message}", BAD_REQUEST)


class _Parts:
    """The client's body as a sequence of parts, read only as far as asked: python-multipart's push parser fed
    one ASGI message at a time, its events queued until taken."""

    def __init__(self, receive: Receive, boundary: bytes, max_bytes: int) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self._events: deque[tuple[int, Any]] = deque()
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, str] = {}
        self.received = 0
        self._eof = False  # the client sent its last byte
        self._ended = False  # the closing boundary came
        self._in_part = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._headers.clear,
                "on_header_field": lambda data, start, end: self._field.extend(data[start:end]),
                "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
                "on_header_end": self._header_end,
                "on_headers_finished": lambda: self._events.append((_PART, dict(self._headers))),
                "on_part_data": lambda data, start, end: self._events.append((_DATA, data[start:end])),
                "on_part_end": lambda: self._events.append((_PART_END, None)),
                "on_end": self._end,
            },
        )

    def _header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("utf-8", "replace")
        self._field.clear()
        self._value.clear()

    def _end(self) -> None:
        self._ended = True

    async def _event(self) -> tuple[int, Any] | None:
        while not self._events:
            if self._eof:
                if not self._ended:
                    raise _malformed("the body ends before its closing boundary")
                return None
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            self.received += len(chunk)
            if self.received > self._max_bytes:
                raise too_large(f"the request is over {self._max_bytes} bytes")
            try:
                self._parser.write(chunk)
                if not message.get("more_body", False):
                    self._eof = True
                    self._parser.finalize()
            except MultipartParseError as exc:
                raise _malformed(str(exc)) from None
        return self._events.popleft()

    async def next_part(self) -> tuple[str, str | None, str] | None:
        """The next part's (name, filename, content type), past what is left of the current one; None at the
        end."""
        while (event := await self._event()) is not None:
            kind, value = event
            if kind == _PART:
                self._in_part = True
                disposition, options = parse_options_header(value.get("content-disposition", ""))
                if disposition != b"form-data" or b"name" not in options:
                    raise _malformed("a part without Content-Disposition: form-data; name=...")
                filename = options.get(b"filename")
                return (
                    options[b"name"].decode("utf-8", "replace"),
                    filename.decode("utf-8", "replace") if filename is not None else None,
                    value.get("content-type") or "application/octet-stream",
                )
        return None

    async def chunk(self) -> bytes | None:
        """The current part's next bytes; None at its end."""
        while self._in_part:
            event = await self._event()
            if event is None:
                break
            kind, value = event
            if kind == _DATA:
                if value:
                    return value
            elif kind == _PART_END:
                self._in_part = False
        return None

    async def field(self, name: str, limit: RequestSizeLimit) -> bytes:
        """The whole of the next part, which must be `name` (`operations`, `map`), within the body limit."""
        head = await self.next_part()
        if head is None or head[0] != name:
            raise _malformed(f"the `{name}` part must come {'first' if name == 'operations' else 'next'}")
        chunks: list[bytes] = []
        size = 0
        while (chunk := await self.chunk()) is not None:
            size += len(chunk)
            if size > limit.max_bytes:
                raise limit.refusal()
            chunks.append(chunk)
        return b"".join(chunks)


def too_large(message: str) -> MalformedRequest:
    return MalformedRequest.of(message, UPLOAD_TOO_LARGE, 413)


class _File:
    __slots__ = ("content_type", "disk", "filename", "key", "paths", "read", "size", "uses")

    def __init__(self, key: str, paths: list[tuple[str | int, ...]]) -> None:
        self.key = key
        self.paths = paths
        self.uses = 0  # the fetches that send it (the plan's)
        self.read = False  # its part has been reached in the body
        self.disk: Any = None  # the temporary file holding it, once kept
        self.size = 0
        self.filename: str | None = None
        self.content_type = "application/octet-stream"


class _Opened:
    __slots__ = ("_chunks", "content_type", "filename")

    def __init__(self, file: _File, chunks: AsyncIterator[bytes]) -> None:
        self.filename = file.filename
        self.content_type = file.content_type
        self._chunks = chunks

    def chunks(self) -> AsyncIterator[bytes]:
        return self._chunks


class UploadedFiles:
    """One request's files (router/upstream/uploads.py's RequestFiles): read from the body in order, each
    straight to its fetch or, where that cannot be, to disk first."""

    def __init__(self, parts: _Parts, files: dict[str, _File], max_file_size: int) -> None:
        self._parts = parts
        self._files = files
        self._max_file_size = max_file_size
        self._reading = asyncio.Lock()  # one reader of the body at a time
        self.refusal: BaseException | None = None

    @property
    def gone(self) -> bool:
        return isinstance(self.refusal, RequestError) and self.refusal.code == CLIENT_CLOSED_REQUEST

    def expect(self, fetch_variables: Iterable[Sequence[str]]) -> None:
        for used in fetch_variables:
            names = set(used)
            for file in self._files.values():
                if any(path[0] in names for path in file.paths):
                    file.uses += 1

    def keys_for(self, variables: Mapping[str, Any]) -> list[str]:
        return [key for key, file in self._files.items() if any(p[0] in variables for p in file.paths)]

    def paths(self, key: str) -> Sequence[Sequence[str | int]]:
        return self._files[key].paths

    @asynccontextmanager
    async def open(self, key: str) -> AsyncIterator[_Opened]:
        file = self._files[key]
        async with self._reading:
            while file.disk is None:
                if file.read:  # streamed to a fetch already: the plan's count was wrong
                    raise RuntimeError(f"upload {key!r} was sent already")
                part = await self._guarded(self._next_file())
                if part is file and file.uses <= 1:
                    yield _Opened(file, self._streamed(file))  # straight through, the body ours meanwhile
                    return
                if part is file or part.uses:  # no fetch sends the others: skipped
                    await self._guarded(self._keep(part))
        yield _Opened(file, self._from_disk(file))

    async def _next_file(self) -> _File:
        """The next file part of the map, its name and type noted; parts the map does not name are skipped."""
        while (head := await self._parts.next_part()) is not None:
            file = self._files.get(head[0])
            if file is not None and not file.read:
                file.read = True
                file.filename, file.content_type = head[1], head[2]
                return file
        missing = sorted(key for key, file in self._files.items() if not file.read)
        raise _malformed(f"the map names files the body does not hold: {', '.join(missing)}")

    async def _file_chunks(self, file: _File) -> AsyncIterator[bytes]:
        while (chunk := await self._parts.chunk()) is not None:
            file.size += len(chunk)
            if file.size > self._max_file_size:
                raise too_large(f"upload {file.key!r} is over {self._max_file_size} bytes")
            yield chunk

    async def _streamed(self, file: _File) -> AsyncIterator[bytes]:
        chunks = self._file_chunks(file)
        try:
            while True:
                chunk = await self._guarded(anext(chunks, None))
                if chunk is None:
                    return
                yield chunk
        finally:
            await chunks.aclose()

    async def _keep(self, file: _File) -> None:
        """The current part to a temporary file (deleted when closed)."""
        disk = file.disk = await asyncio.to_thread(tempfile.TemporaryFile)
        async for chunk in self._file_chunks(file):
            await asyncio.to_thread(disk.write, chunk)
        await asyncio.to_thread(disk.flush)

    async def _from_disk(self, file: _File) -> AsyncIterator[bytes]:
        fd = file.disk.fileno()
        offset = 0
        while chunk := await asyncio.to_thread(os.pread, fd, _CHUNK, offset):
            offset += len(chunk)
            yield chunk

    async def _guarded(self, step: Any) -> Any:
        """`step`'s result; its failure noted as the request's refusal (the client's fault, not the
        subgraph's)."""
        try:
            return await step
        except ClientGone:
            self.refusal = MalformedRequest.of("the client closed the request", CLIENT_CLOSED_REQUEST, 499)
            raise self.refusal from None
        except RequestError as refused:
            self.refusal = refused
            raise

    async def close(self) -> None:
        for file in self._files.values():
            if file.disk is not None:
                await asyncio.to_thread(file.disk.close)
                file.disk = None


class UploadRequest:
    """A multipart request read as far as its files: its GraphQL parameters, their size, its files."""

    __slots__ = ("files", "params", "size")

    def __init__(self, params: dict[str, Any], size: int, files: UploadedFiles) -> None:
        self.params = params
        self.size = size
        self.files = files


class MultipartUploads:
    def __init__(self, config: UploadsConfig, size_limit: RequestSizeLimit) -> None:
        self.config = config
        self.size_limit = size_limit

    async def read(self, receive: Receive, content_type: str, content_length: int) -> UploadRequest:
        """`operations` and `map` read and checked, the placeholders set; MalformedRequest otherwise."""
        config = self.config
        if not config.enabled:
            raise MalformedRequest.of(
                "file uploads (multipart/form-data) are turned off on this router", UPLOADS_DISABLED, 415
            )
        if content_length > config.max_request_size:
            raise too_large(f"the request is over {config.max_request_size} bytes")
        boundary = parse_options_header(content_type)[1].get(b"boundary")
        if not boundary:
            raise _malformed("the Content-Type has no boundary")
        parts = _Parts(receive, boundary, config.max_request_size)
        raw_operations = await parts.field("operations", self.size_limit)
        raw_map = await parts.field("map", self.size_limit)
        try:
            operations, mapping = orjson.loads(raw_operations), orjson.loads(raw_map)
        except orjson.JSONDecodeError:
            raise _malformed("`operations` and `map` must be JSON") from None
        if isinstance(operations, list):
            raise MalformedRequest.of(
                "a batch of operations cannot carry files; send one operation per request",
                UPLOAD_BATCH_NOT_SUPPORTED,
            )
        if not isinstance(operations, dict):
            raise _malformed("`operations` must be a JSON object")
        if not isinstance(mapping, dict):
            raise _malformed("`map` must be a JSON object of file names to lists of paths")
        if len(mapping) > config.max_files:
            raise MalformedRequest.of(
                f"{len(mapping)} files; at most {config.max_files} per request", UPLOAD_TOO_MANY_FILES, 413
            )
        files = {key: _File(key, _placeholders(operations, key, paths)) for key, paths in mapping.items()}
        size = len(raw_operations) + len(raw_map)
        return UploadRequest(operations, size, UploadedFiles(parts, files, config.max_file_size))


def _placeholders(operations: dict[str, Any], key: str, paths: Any) -> list[tuple[str | int, ...]]:
    """The variable paths of map entry `key`, each set to a placeholder where the spec has null."""
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise _malformed(f"map entry {key!r} must be a non-empty list of paths")
    out: list[tuple[str | int, ...]] = []
    for text in paths:
        steps = text.split(".")
        if len(steps) < 2 or steps[0] != "variables":
            raise _malformed(f"map path {text!r} must point into `variables`")
        target: Any = operations
        path: list[str | int] = []
        for i, step in enumerate(steps):
            if isinstance(target, list) and step.isdigit() and int(step) < len(target):
                index: str | int = int(step)
            elif isinstance(target, dict) and step in target:
                index = step
            else:
                raise _malformed(f"map path {text!r} names no value in `operations`")
            if i == len(steps) - 1:
                if target[index] is not None:
                    raise _malformed(f"map path {text!r} must hold null in `operations`")
                target[index] = f"<upload {key}>"
            else:
                target = target[index]
            path.append(index)
        out.append(tuple(path[1:]))
    return out
