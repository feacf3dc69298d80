"""CSRF prevention, as Apollo Router and Apollo Server do it: refuse a request a browser could have sent
cross-site without a CORS preflight, so no page on another origin can make a logged-in browser run an
operation. Such a "simple" request has no Content-Type or one of the three a form can send, and no custom
header; anything else makes the browser ask first (the CORS preflight: router/pipeline/edge/cors.py).

A request is safe when its Content-Type is anything but those three (an unparsable one included: browsers
preflight it too), or when it carries a non-empty value of one of the required headers. A multipart upload
(`multipart/form-data`) is therefore always refused without the header, as Apollo's uploads require."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, Field, field_validator

from router.pipeline.errors import CSRF_ERROR, MalformedRequest

# The content types a browser sends cross-site without a preflight (the Fetch standard's CORS-safelisted
# request-header values for Content-Type).
SIMPLE_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
# Apollo Client sends the first for operations with a name; the second is the one to add by hand.
DEFAULT_REQUIRED_HEADERS = ("x-apollo-operation-name", "apollo-require-preflight")


class CsrfConfig(BaseModel):
    """`csrf:` in router.yaml."""

    # On unless turned off: a router exposed to browsers with cookie or basic auth needs it, and a client that
    # is not a browser sends JSON (or one header) anyway.
    enabled: bool = True
    # Any one of these, non-empty, makes a simple request safe (a browser preflights a custom header). If you
    # change them and list CORS `allow_headers`, list these there too.
    required_headers: tuple[str, ...] = Field(DEFAULT_REQUIRED_HEADERS, min_length=1)

    @field_validator("required_headers")
    @classmethod
    def _lower(cls, headers: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(header.strip().lower() for header in headers)


class CsrfPrevention:
    def __init__(self, config: CsrfConfig) -> None:
        self.required_headers = config.required_headers
        self._refusal_message = (
            "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Send a"
            f" Content-Type other than {', '.join(sorted(SIMPLE_CONTENT_TYPES))}, or a non-empty value for"
            f" one of these headers: {', '.join(self.required_headers)}"
        )

    def check(self, headers: Mapping[str, str]) -> None:
        """Raises MalformedRequest (400 CSRF_ERROR, whatever the media type: not a GraphQL error but a refused
        HTTP request) for a request a browser could send without a preflight."""
        content_type = headers.get("content-type")
        if content_type is not None and not is_simple_content_type(content_type):
            return
        for name in self.required_headers:
            if headers.get(name):
                return
        raise MalformedRequest.of(self._refusal_message, CSRF_ERROR, 400)


@lru_cache(maxsize=128)
def is_simple_content_type(content_type: str) -> bool:
    """Whether a browser sends this Content-Type cross-site without a preflight: its essence (type/subtype,
    parameters ignored, case-insensitive) is one of the three. A value that does not parse as a media type is
    not simple (the browser preflights it)."""
    essence = content_type.split(";", 1)[0].strip().lower()
    kind, slash, subtype = essence.partition("/")
    if not slash or not kind or not subtype or any(c.isspace() for c in essence):
        return False
    return essence in SIMPLE_CONTENT_TYPES
