"""`GET`/`HEAD /media/...`: product images, passed through to the subgraph that serves them (products'
`/media/{id}/{rendition}`, at the origin of its GraphQL URL; router/upstream/media.py). No GraphQL, no auth:
images are public. Only paths of that shape pass (no `..`, no query), only the headers a cache or a media
player needs go either way (conditional and range requests; validators and ranges back), and the body
streams through as it comes."""

from __future__ import annotations

import re
from collections.abc import Mapping

import aiohttp

from router.http.asgi import JSON_CONTENT_TYPE, Receive, Scope, Send, respond
from router.pipeline.errors import RequestError
from router.upstream.media import MediaConfig, MediaUpstream

PREFIX = "/media/"
# `/media/<media id>/<rendition>`: what products serves; anything else is not asked for at all.
_PATH = re.compile(r"/media/[0-9a-fA-F-]{1,40}/[a-z0-9]{1,16}")
_REQUEST_HEADERS = frozenset(
    {b"range", b"if-none-match", b"if-modified-since", b"if-range", b"x-request-id", b"traceparent"}
)
_RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-range",
        "accept-ranges",
        "etag",
        "last-modified",
        "cache-control",
        "x-content-type-options",
    }
)
_CHUNK = 64 * 1024


class MediaPassThrough:
    def __init__(self, config: MediaConfig) -> None:
        self.upstream = MediaUpstream(config)

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, subgraphs: Mapping[str, str]
    ) -> None:
        path: str = scope["path"]
        if scope["method"] not in ("GET", "HEAD"):
            refused = RequestError.of("media is read with GET or HEAD", "METHOD_NOT_ALLOWED", 405)
            await respond(send, 405, refused.body(), JSON_CONTENT_TYPE, ((b"allow", b"GET, HEAD"),))
            return
        url = self.upstream.url(subgraphs, path) if _PATH.fullmatch(path) else None
        if url is None:
            refused = RequestError.of("no such image", "NOT_FOUND", 404)
            await respond(send, 404, refused.body(), JSON_CONTENT_TYPE)
            return
        headers = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope["headers"]
            if key in _REQUEST_HEADERS
        }
        started = False
        try:
            async with self.upstream.request(scope["method"], url, headers) as answer:
                await send(
                    {
                        "type": "http.response.start",
                        "status": answer.status,
                        "headers": [
                            (key.lower().encode("latin-1"), value.encode("latin-1"))
                            for key, value in answer.headers.items()
                            if key.lower() in _RESPONSE_HEADERS
                        ],
                    }
                )
                started = True
                async for chunk in answer.content.iter_chunked(_CHUNK):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                return
        except TimeoutError:
            status, code, message = 504, "SUBREQUEST_TIMEOUT", "the media service did not answer in time"
        except (aiohttp.ClientError, OSError) as exc:
            status, code = 502, "SUBREQUEST_HTTP_ERROR"
            message = f"the media service failed: {type(exc).__name__}"
        if started:
            # Mid-body the status is sent: ending short of the Content-Length is how HTTP says "broken".
            return
        await respond(send, status, RequestError.of(message, code, status).body(), JSON_CONTENT_TYPE)

    async def close(self) -> None:
        await self.upstream.close()
