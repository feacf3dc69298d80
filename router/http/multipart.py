"""`multipart/mixed` answers, as Apollo Router and Apollo Client speak them: incremental delivery (`@defer`,
`deferSpec=20220824`, boundary `-`) and HTTP subscriptions (`subscriptionSpec=1.0`, boundary `graphql`). Both
are a stream of JSON parts; the doors that use them (the HTTP door's @defer answers and multipart
subscriptions) share the framing here.

    HTTP/1.1 200 OK
    content-type: multipart/mixed;boundary="-";deferSpec=20220824

    \r\n---\r\ncontent-type: application/json; charset=utf-8\r\n\r\n{...,"hasNext":true}
    \r\n---\r\ncontent-type: application/json; charset=utf-8\r\n\r\n{...,"hasNext":false}
    \r\n-----\r\n
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import orjson

from router.ops.compression import quality_weights

DEFER_SPEC = "deferSpec=20220824"
SUBSCRIPTION_SPEC = "subscriptionSpec=1.0"  # what Apollo Client sends


@dataclass(frozen=True, slots=True)
class Multipart:
    """One framing: the boundary, the response's content type, and how a part and the end are written."""

    boundary: bytes
    spec: str

    @property
    def content_type(self) -> bytes:
        return b'multipart/mixed;boundary="' + self.boundary + b'";' + self.spec.encode()

    def part(self, payload: object) -> bytes:
        """One JSON part (its delimiter first, so a part is complete as soon as it is sent)."""
        return (
            b"\r\n--"
            + self.boundary
            + b"\r\ncontent-type: application/json; charset=utf-8\r\n\r\n"
            + orjson.dumps(payload)
        )

    def end(self) -> bytes:
        """The closing delimiter."""
        return b"\r\n--" + self.boundary + b"--\r\n"


DEFER = Multipart(b"-", DEFER_SPEC)
SUBSCRIPTION = Multipart(b"graphql", SUBSCRIPTION_SPEC)


@lru_cache(maxsize=256)
def accepts(accept: str, spec: str) -> bool:
    """Whether the Accept header lists `multipart/mixed` with `spec` (e.g. `deferSpec=20220824`) among its
    parameters, at a weight above zero. Apollo Client sends
    `multipart/mixed;deferSpec=20220824,application/json` and `multipart/mixed;subscriptionSpec=1.0,...`."""
    name = spec.split("=", 1)[0].lower()
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if media.lower() != "multipart/mixed":
            continue
        keys = {p.split("=", 1)[0].strip().lower(): p for p in params}
        if name in keys and quality_weights(item).get("multipart/mixed", 1.0) > 0:
            return True
    return False
