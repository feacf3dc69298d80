"""The edge: what every request passes before any GraphQL work, whichever door it came through, in this order:
whether a browser could have sent it cross-site without a preflight (csrf.py; the HTTP and SSE doors: a
WebSocket upgrade's Origin is checked by router/http/app.py), its size (limits.py), the persisted query it
names (persisted.py), its bearer token (auth.py), its client's rate (rate_limit.py). Each refuses with a
RequestError the door frames."""

from __future__ import annotations

from typing import TYPE_CHECKING

from router.pipeline.edge.csrf import CsrfPrevention
from router.pipeline.edge.limits import RequestSizeLimit
from router.pipeline.edge.persisted import PersistedQueries
from router.pipeline.request import Door, GraphQLRequest

if TYPE_CHECKING:
    from router.pipeline.edge.auth import EdgeAuth
    from router.pipeline.edge.rate_limit import ClientRateLimit
    from shared.auth import Principal


class Edge:
    def __init__(
        self,
        size_limit: RequestSizeLimit,
        persisted: PersistedQueries,
        auth: EdgeAuth | None = None,
        rate_limit: ClientRateLimit | None = None,
        csrf: CsrfPrevention | None = None,
    ) -> None:
        self.csrf = csrf
        self.size_limit = size_limit
        self.persisted = persisted
        self.auth = auth
        self.rate_limit = rate_limit

    async def admit(self, request: GraphQLRequest) -> None:
        """Lets `request` on (its query text found, its principal verified) or raises RequestError."""
        # First: a forged request must not even register a persisted query or spend a rate-limit token.
        if self.csrf is not None and request.door is not Door.WEBSOCKET:
            self.csrf.check(request.headers)
        if request.size > self.size_limit.max_bytes:
            raise self.size_limit.refusal()
        persisted = self.persisted
        # Every request in safelist mode, else only one naming a persisted query (the hot path skips it).
        if persisted.always or request.extensions is not None or request.document_id is not None:
            await persisted.resolve(request)
        if self.auth is not None and not request.authenticated:
            request.principal = await self.auth.authenticate(request.headers.get("authorization"))
            request.authenticated = True
        if self.rate_limit is not None:
            await self.rate_limit.admit(request.client)

    async def authenticate(self, authorization: str | None) -> Principal | None:
        """A connection's credentials, checked once (a WebSocket's `connection_init`): the principal, None
        when anonymous or when edge auth is off; RequestError (401) for a bad token."""
        if self.auth is None:
            return None
        return await self.auth.authenticate(authorization)

    async def close(self) -> None:
        await self.persisted.close()
        if self.auth is not None:
            await self.auth.close()
        if self.rate_limit is not None:
            await self.rate_limit.close()
