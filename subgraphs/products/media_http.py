"""`GET`/`HEAD /media/{media_id}/{rendition}`: a product image's bytes (`original`, or a thumbnail: `small`,
`medium`, `large`), for anyone (images of archived products too: orders show them). A rendition never
changes once stored (a new image is a new id), so answers are cacheable for a year (`immutable`) and carry a
strong `ETag` (the original's SHA-256 and the rendition); `If-None-Match` answers 304, `Range: bytes=`
206 (one range; 416 when none of it exists). The router passes `/media/*` here (router/http/media.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from shared.context import Runtime
from subgraphs.products import media_repository
from subgraphs.products.media import rendition_key, storage_of
from subgraphs.products.media_storage import Storage

CACHE_FOREVER = "public, max-age=31536000, immutable"
# Read from storage this much at a time: a 10 MiB original streams, never sits whole in memory.
_CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def add_media_routes(app: FastAPI) -> None:
    app.add_api_route(
        "/media/{media_id}/{rendition}", serve_media, methods=["GET", "HEAD"], include_in_schema=False
    )


async def serve_media(request: Request, media_id: str, rendition: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        parsed = uuid.UUID(media_id)
    except ValueError:
        return _not_found()
    async with runtime.sessionmaker() as session:
        found = await media_repository.by_ids(session, [parsed])
    if not found:
        return _not_found()
    row = found[0]
    stored = rendition_key(row, rendition)
    if stored is None:
        return _not_found()
    key, content_type = stored
    storage: Storage = runtime.state.storage if runtime.state is not None else storage_of(runtime.settings)
    stat = await storage.stat(key)
    if stat is None:  # the row committed, its file lost (a wiped volume): say so, never serve a stale guess
        return _not_found()
    etag = f'"{row.sha256}-{rendition}"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_FOREVER,
        "Last-Modified": format_datetime(row.created_at, usegmt=True),
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
    }
    if _not_modified(request, etag, row.created_at):
        return Response(status_code=304, headers=headers)
    size = stat.size
    start, end = 0, size  # end exclusive
    status = 200
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted is not None and (if_range is None or if_range.strip() == etag):
        parsed_range = _byte_range(wanted, size)
        if parsed_range is False:
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        if parsed_range is not None:
            start, end = parsed_range
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=content_type)
    return StreamingResponse(_chunks(storage, key, start, end), status, headers, media_type=content_type)


def _not_modified(request: Request, etag: str, created_at: object) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when sent (weak comparison); else If-Modified-Since."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        return False
    return created_at.replace(microsecond=0) <= when  # type: ignore[attr-defined]


def _byte_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """(start, end exclusive) of a single `bytes=` range; None to ignore the header (several ranges, another
    unit, malformed: RFC 9110 lets a server answer 200 whole); False when it is unsatisfiable (416)."""
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            return False
        return max(0, size - length), size
    start = int(first)
    if start >= size:
        return False
    end = size if not last else min(int(last) + 1, size)
    if end <= start:
        return None  # last < first: invalid, ignored
    return start, end


async def _chunks(storage: Storage, key: str, start: int, end: int) -> AsyncIterator[bytes]:
    offset = start
    while offset < end:
        chunk = await storage.read(key, offset, min(offset + _CHUNK, end))
        if not chunk:
            return
        offset += len(chunk)
        yield chunk


def _not_found() -> JSONResponse:
    return JSONResponse({"errors": [{"message": "No such image.", "extensions": {"code": "NOT_FOUND"}}]}, 404)
