"""CORS: which browser origins may read the router's answers. An allowed origin's requests get the
`access-control-allow-*` headers, its preflights (OPTIONS) are answered with the methods and headers it may
send and how long to cache that; any other origin gets no CORS header at all, so the browser keeps the answer
from the page. Pages the router serves itself (GraphiQL) are same-origin and need none of this.

With CSRF prevention (csrf.py) this is what stops a foreign page: CSRF makes the browser
preflight, CORS refuses the preflight."""

from __future__ import annotations

import re

from cachetools import LRUCache
from pydantic import BaseModel, Field, model_validator

Headers = tuple[tuple[bytes, bytes], ...]

_VARY_ORIGIN = (b"vary", b"origin")


class CorsConfig(BaseModel):
    """`cors:` in router.yaml. Nothing configured: no origin but the router's own."""

    # Exact origins (scheme://host[:port]), e.g. https://shop.example.com.
    origins: tuple[str, ...] = ()
    # Regular expressions an origin must match whole, e.g. `^https://[a-z0-9-]+\.shop\.example\.com$`.
    match_origins: tuple[str, ...] = ()
    # Every origin ("*"); refused together with `allow_credentials` (the browser would ignore it anyway).
    allow_any_origin: bool = False
    # Whether the browser may send cookies / HTTP auth and let the page read the answer.
    allow_credentials: bool = False
    # The request headers a page may send; empty: whatever its preflight asks for (as Apollo Router does).
    # CSRF prevention's required headers (apollo-require-preflight, ...) must be among them when listed.
    allow_headers: tuple[str, ...] = ()
    # Response headers a page may read beyond the safelisted ones.
    expose_headers: tuple[str, ...] = ("x-request-id",)
    methods: tuple[str, ...] = ("GET", "POST", "OPTIONS")
    # How long the browser caches a preflight's answer (Chromium caps it at 2 hours).
    max_age_seconds: int = Field(7200, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> CorsConfig:
        if self.allow_any_origin and self.allow_credentials:
            raise ValueError("cors: allow_credentials cannot go with allow_any_origin (list the origins)")
        for pattern in self.match_origins:
            re.compile(pattern)  # a bad pattern fails the start, not the first request
        return self

    @property
    def configured(self) -> bool:
        return bool(self.origins or self.match_origins or self.allow_any_origin)


class CorsPolicy:
    def __init__(self, config: CorsConfig) -> None:
        self.config = config
        self._exact = frozenset(origin.rstrip("/") for origin in config.origins)
        self._patterns = tuple(re.compile(pattern) for pattern in config.match_origins)
        # Verdicts per origin seen: regexes run once per origin, and a flood of made-up origins only
        # cycles this bounded cache.
        self._verdicts: LRUCache[str, bool] = LRUCache(maxsize=1024)
        shared: list[tuple[bytes, bytes]] = []
        if config.allow_credentials:
            shared.append((b"access-control-allow-credentials", b"true"))
        self._shared = tuple(shared)
        self._expose = (
            ((b"access-control-expose-headers", ", ".join(config.expose_headers).encode()),)
            if config.expose_headers
            else ()
        )
        self._methods = (b"access-control-allow-methods", ", ".join(config.methods).encode())
        self._allow_headers = ", ".join(config.allow_headers).encode()
        self._max_age = (b"access-control-max-age", str(config.max_age_seconds).encode())
        # With "*" the answer does not depend on the origin; otherwise caches must keep one per origin.
        self._vary: Headers = () if config.allow_any_origin else (_VARY_ORIGIN,)

    def allows(self, origin: str) -> bool:
        verdict = self._verdicts.get(origin)
        if verdict is None:
            verdict = self._verdicts[origin] = self.config.allow_any_origin or self._match(origin)
        return verdict

    def _match(self, origin: str) -> bool:
        return origin in self._exact or any(p.fullmatch(origin) for p in self._patterns)

    def response_headers(self, origin: str | None) -> Headers:
        """The CORS headers of an answer to a request from `origin` (None: no Origin header)."""
        if origin is None or not self.allows(origin):
            return self._vary
        return (*self._vary, self._allow_origin(origin), *self._shared, *self._expose)

    def preflight_headers(self, origin: str, requested_headers: bytes) -> Headers:
        """The answer's headers to a preflight from `origin` asking to send `requested_headers`."""
        if not self.allows(origin):
            return self._vary
        allow_headers = self._allow_headers or requested_headers
        headers = [*self._vary, self._allow_origin(origin), *self._shared, self._methods, self._max_age]
        if allow_headers:
            headers.append((b"access-control-allow-headers", allow_headers))
        if not self._allow_headers:  # mirrored: the answer depends on what was asked
            headers.append((b"vary", b"access-control-request-headers"))
        return tuple(headers)

    def _allow_origin(self, origin: str) -> tuple[bytes, bytes]:
        if self.config.allow_any_origin:
            return (b"access-control-allow-origin", b"*")
        return (b"access-control-allow-origin", origin.encode("latin-1"))


def same_origin(origin: str, host: str | None) -> bool:
    """Whether `origin` (scheme://host[:port]) names the host the request was sent to (its Host header): a
    page the router served itself. Default ports are left out of an Origin, and may be of a Host."""
    if host is None:
        return False
    scheme, sep, authority = origin.partition("://")
    if not sep:
        return False
    default = {"http": ":80", "https": ":443"}.get(scheme.lower(), "")
    host = host.lower()
    authority = authority.lower()
    return authority == host or (bool(default) and authority + default == host)
