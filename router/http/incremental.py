"""The HTTP door's incremental delivery: a client accepting `multipart/mixed;deferSpec=20220824` (Apollo
Client; Apollo Router's format) whose query has @defer is answered in multipart/mixed parts (the DEFER
framing of router/http/multipart.py), each written as soon as the pipeline yields it; anything else it asks
(nothing deferred, a refusal) the door answers as usual. A client that goes away stops the parts still
running."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from router.execution.incremental import IncrementalStream
from router.http.asgi import Headers, Receive, Send
from router.http.multipart import DEFER
from router.pipeline.entry import Pipeline
from router.pipeline.request import GraphQLRequest

logger = logging.getLogger(__name__)

_DELIMITER = b"\r\n--" + DEFER.boundary
_HEADERS = [(b"content-type", DEFER.content_type), (b"cache-control", b"no-cache")]


async def answer_in_parts(
    pipeline: Pipeline, request: GraphQLRequest, receive: Receive, send: Send, extra: Headers
) -> dict[str, Any] | None:
    """Streams the parts of `request`'s @defer answer and returns None, or returns the one response of a
    request with nothing deferred for the door to send; raises RequestError for a refusal."""
    started = await pipeline.start(request)
    try:
        if started.parts is None:
            return started.response
        await _stream(started.parts, receive, send, extra)
        return None
    finally:
        await started.close()


async def _stream(parts: IncrementalStream, receive: Receive, send: Send, extra: Headers) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [*_HEADERS, *extra]})

    async def write() -> None:
        # Each part goes with the delimiter after it, as Apollo Router sends them: a client's parser takes a
        # part when it sees the next delimiter, so a part sent without one waits for the next part. The
        # bytes are DEFER's parts and end, cut elsewhere.
        first = True
        async for part in parts:
            chunk = DEFER.part(part)
            if not first:
                chunk = chunk[len(_DELIMITER) :]
            first = False
            await send({"type": "http.response.body", "body": chunk + _DELIMITER, "more_body": True})
        await send({"type": "http.response.body", "body": DEFER.end()[len(_DELIMITER) :], "more_body": False})

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    writer = asyncio.create_task(write())
    watcher = asyncio.create_task(watch())
    try:
        await asyncio.wait((writer, watcher), return_when=asyncio.FIRST_COMPLETED)
        if writer.done() and not writer.cancelled() and writer.exception() is not None:
            logger.error("a multipart answer failed", exc_info=writer.exception())
    finally:
        for task in (writer, watcher):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
