"""File uploads on their way to a subgraph (the GraphQL multipart request spec): a fetch whose variables carry
a client's files goes as `multipart/form-data` (`operations`, `map`, then the files), each file's bytes
streamed from the client's request body as they arrive (router/http/uploads.py reads them), never held
whole.

Two context variables carry the files through the stages without widening every signature: the HTTP door sets
`request_files` for the request; the executor sets `fetch_upload` around a fetch that carries files, and the
transport, finding it, sends the multipart body instead of the JSON one (router/upstream/transport.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from contextvars import ContextVar
from typing import Any, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

MiB = 1024 * 1024


class UploadsConfig(BaseModel):
    """`uploads:` in router.yaml: multipart requests (the GraphQL multipart request spec), read by the HTTP
    door (router/http/uploads.py)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt limit fails the start, not the first upload

    # Off unless enabled (as in Apollo Router): a router whose subgraphs take no `Upload` need not parse them.
    enabled: bool = False
    # One file past this answers 413 UPLOAD_TOO_LARGE, found while it streams.
    max_file_size: int = Field(10 * MiB, ge=1)
    # More files than this in one request's `map` answers 413 UPLOAD_TOO_MANY_FILES before any is read.
    max_files: int = Field(5, ge=1)
    # The whole multipart body (files, `operations`, `map`): past it 413 UPLOAD_TOO_LARGE.
    max_request_size: int = Field(50 * MiB, ge=1)

    @model_validator(mode="after")
    def _request_holds_a_file(self) -> UploadsConfig:
        if self.max_request_size < self.max_file_size:
            raise ValueError("uploads.max_request_size must be at least uploads.max_file_size")
        return self


class OpenedFile(Protocol):
    """One file of the client's request, positioned at its bytes."""

    filename: str | None
    content_type: str

    def chunks(self) -> AsyncIterator[bytes]: ...


class RequestFiles(Protocol):
    """A multipart request's files (router/http/uploads.py's): which variables hold them, and their bytes."""

    # Why the client's request failed while a file streamed (too large, malformed, the client gone): raised
    # in place of the subgraph fetch's failure, which it caused.
    refusal: BaseException | None

    def expect(self, fetch_variables: Iterable[Sequence[str]]) -> None:
        """The plan's fetches (the variables each uses): a file more than one fetch sends is kept on disk."""

    def keys_for(self, variables: Mapping[str, Any]) -> list[str]:
        """The map keys of the files these fetch variables hold, in the client's order."""
        ...

    def paths(self, key: str) -> Sequence[Sequence[str | int]]:
        """Where file `key` sits in the variables (the map's `variables.` paths, split)."""
        ...

    def open(self, key: str) -> AbstractAsyncContextManager[OpenedFile]: ...


# The request's files; set by the HTTP door for a multipart request, None otherwise.
request_files: ContextVar[RequestFiles | None] = ContextVar("request_files", default=None)


class FetchUpload:
    """One fetch's files: its variables with null where each file goes (the spec's placeholders), the map and
    the multipart body streaming the files in."""

    __slots__ = ("boundary", "files", "keys", "paths", "variables")

    def __init__(self, files: RequestFiles, keys: list[str], variables: dict[str, Any]) -> None:
        self.files = files
        self.keys = keys
        # Where each file goes in this fetch's variables (a file the map puts in several variables may go to
        # several fetches, each getting only its own).
        self.paths = {key: [p for p in files.paths(key) if p[0] in variables] for key in keys}
        self.variables = _with_nulls(variables, (path for paths in self.paths.values() for path in paths))
        self.boundary = "myshop-" + os.urandom(16).hex()

    @classmethod
    def of(cls, variables: Mapping[str, Any] | None) -> FetchUpload | None:
        """The upload of a fetch with these variables, None when it carries no file (or no files came)."""
        files = request_files.get()
        if files is None or not variables:
            return None
        keys = files.keys_for(variables)
        return cls(files, keys, dict(variables)) if keys else None

    def map(self) -> dict[str, list[str]]:
        return {
            key: [".".join(["variables", *map(str, p)]) for p in paths] for key, paths in self.paths.items()
        }

    async def body(self, operations: bytes) -> AsyncIterator[bytes]:
        """The multipart body: `operations` (the JSON request the fetch would have sent), `map`, the files."""
        dash = b"--" + self.boundary.encode()
        yield _part_head(dash, "operations", None, "application/json") + operations
        yield b"\r\n" + _part_head(dash, "map", None, "application/json") + orjson.dumps(self.map())
        for key in self.keys:
            async with self.files.open(key) as opened:
                yield b"\r\n" + _part_head(dash, key, opened.filename or "", opened.content_type)
                async for chunk in opened.chunks():
                    yield chunk
        yield b"\r\n" + dash + b"--\r\n"

    async def send(
        self,
        exchange: Callable[[str, Any, Mapping[str, str]], Awaitable[dict[str, Any]]],
        graph: str,
        operations: bytes,
        headers: Mapping[str, str],
    ) -> dict[str, Any]:
        """`exchange` (the transport's) with the multipart body; a failure the client's request caused raises
        that, not the subgraph fetch's error (it must not count against the subgraph's circuit breaker)."""
        body = self.body(operations)
        outgoing = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
        outgoing["content-type"] = f"multipart/form-data; boundary={self.boundary}"
        # A subgraph with CSRF prevention (Apollo Server's, Strawberry's) refuses a multipart POST without it.
        outgoing["apollo-require-preflight"] = "true"
        try:
            answer = await exchange(graph, body, outgoing)
        except BaseException:
            if self.files.refusal is not None:
                raise self.files.refusal from None
            raise
        finally:
            # Not started (no connection), or done; one still running in the HTTP client's writer task is
            # cancelled with the exchange.
            with suppress(RuntimeError):
                await body.aclose()
        if self.files.refusal is not None:  # the subgraph answered before the client's body went wrong
            raise self.files.refusal
        return answer


# Set by the executor around a fetch that carries files (router/execution/executor.py).
fetch_upload: ContextVar[FetchUpload | None] = ContextVar("fetch_upload", default=None)


def _part_head(dash: bytes, name: str, filename: str | None, content_type: str) -> bytes:
    disposition = f'form-data; name="{_quoted(name)}"'
    if filename is not None:
        disposition += f'; filename="{_quoted(filename)}"'
    return b"%s\r\nContent-Disposition: %s\r\nContent-Type: %s\r\n\r\n" % (
        dash,
        disposition.encode("utf-8"),
        content_type.encode("latin-1", "replace"),
    )


def _quoted(value: str) -> str:
    """A name for a Content-Disposition parameter, escaped as browsers do (the HTML form encoding)."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _with_nulls(variables: dict[str, Any], paths: Iterable[Sequence[str | int]]) -> dict[str, Any]:
    """`variables` with null at each path, copied along the paths only (the client's values stay as sent)."""
    out = dict(variables)
    for path in paths:
        target: Any = out
        for step in path[:-1]:
            inner = target[step]
            copied = dict(inner) if isinstance(inner, dict) else list(inner)
            target[step] = copied
            target = copied
        target[path[-1]] = None
    return out
