"""The size limit of a request, the same at every door: an HTTP body, the body of an SSE request, a WebSocket
`subscribe` message. Past `max_bytes` the request is refused with PAYLOAD_TOO_LARGE (HTTP 413) before it is
parsed; past `max_bytes * UNREAD_FACTOR` it is not even read (HTTP closes the connection, uvicorn closes a
WebSocket with 1009)."""

from __future__ import annotations

from router.pipeline.errors import PAYLOAD_TOO_LARGE, RequestError

# Draining a small excess lets an HTTP client read our 413 instead of a reset; reading gigabytes would let
# anyone keep us busy.
UNREAD_FACTOR = 8


class RequestSizeLimit:
    __slots__ = ("max_bytes",)

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    @property
    def unread_bytes(self) -> int:
        """Past this many bytes a request is refused without reading the rest."""
        return self.max_bytes * UNREAD_FACTOR

    def refusal(self) -> RequestError:
        return RequestError.of(f"the request body is over {self.max_bytes} bytes", PAYLOAD_TOO_LARGE, 413)
