"""Authentication at the edge: a bearer token is verified before any subgraph is called.

The router checks the signature against users' JWKS (fetched, cached, refetched on an unknown `kid`), the
expiry, the issuer and the audience; a bad token is refused with UNAUTHENTICATED (HTTP 401; a WebSocket's
`connection_init` is closed 4403) and nothing is planned or fetched. A good token goes on to the subgraphs in
the `Authorization` header, and each of them verifies it again (and checks revocations and roles). Anonymous
requests pass: public fields need no token.
"""

from __future__ import annotations

import httpx

from router.pipeline.errors import RequestError
from shared.auth import JwksKeySource, Principal, TokenVerifier
from shared.errors import Unauthenticated

_CHALLENGE = ((b"www-authenticate", b'Bearer error="invalid_token"'),)


class EdgeAuth:
    def __init__(
        self, jwks_url: str, *, issuer: str, audience: str, leeway_seconds: int, jwks_refresh_seconds: float
    ) -> None:
        """Tokens signed by a key of `jwks_url` (refetched for an unknown kid at most every
        `jwks_refresh_seconds`), from `issuer` for `audience`, `leeway_seconds` of clock skew allowed."""
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        self._verifier = TokenVerifier(
            JwksKeySource(jwks_url, self._http, min_refresh_seconds=jwks_refresh_seconds),
            issuer=issuer,
            audience=audience,
            leeway_seconds=leeway_seconds,
        )

    async def authenticate(self, authorization: str | None) -> Principal | None:
        """The token's principal; None (anonymous) without an Authorization header; RequestError (401
        UNAUTHENTICATED) for one that is not `Bearer <a valid token>`."""
        if authorization is None:
            return None
        scheme, _, token = authorization.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("The Authorization header must be `Bearer <token>`.")
            return await self._verifier.verify(token.strip())
        except Unauthenticated as exc:
            raise RequestError(
                [{"message": exc.message, "extensions": exc.extensions}], 401, _CHALLENGE
            ) from None

    async def close(self) -> None:
        await self._http.aclose()
