"""The client's address, computed once per request in one place for every door (HTTP and SSE in graphql.py,
WebSocket in websocket.py): the TCP peer, or, when the peer is one of router.yaml's `trusted_proxies`, the
right-most hop of its `X-Forwarded-For` that is not itself a trusted proxy (shared.client_address).

The address becomes the request's `peer` (the router's rate limit counts anonymous requests by it) and the
`X-Forwarded-For` every subgraph gets (router/upstream/headers.py sets it after the header rules, over the
client's own): users' login and registration limits count by it.
"""

from __future__ import annotations

from collections.abc import Iterable

from router.http.asgi import Scope
from shared.client_address import UNKNOWN, TrustedPeers, canonical

_FORWARDED_FOR = b"x-forwarded-for"


class ClientAddresses:
    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.trusted = TrustedPeers(trusted_proxies)

    def of(self, scope: Scope) -> str:
        """The address of the client of an ASGI `http` or `websocket` scope."""
        client = scope.get("client")
        peer: str | None = client[0] if client else None
        if peer is None:
            return UNKNOWN
        if not self.trusted:  # the default: no proxy in front, the header is not even read
            parsed = canonical(peer)
            return parsed[1] if parsed is not None else peer
        # Several header lines are one list, in order (RFC 9110, 5.3).
        forwarded = [value.decode("latin-1") for key, value in scope["headers"] if key == _FORWARDED_FOR]
        return self.trusted.client_address(peer, ",".join(forwarded) if forwarded else None)
