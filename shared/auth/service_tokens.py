"""SERVICE tokens for calls between services: OAuth 2 client credentials against users' `/oauth/token`.

A service proves itself with the shared service secret and gets a short-lived token with the SERVICE role,
cached until shortly before it expires. With no token URL (tests, a single-process development setup) the
process signs its own from the local key ring, as it verifies with it.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from shared.auth.keys import KeyRing
from shared.auth.tokens import TokenIssuer
from shared.errors import MyShopError

# Renew this long before expiry, so a token never expires on its way to a peer.
RENEW_MARGIN_SECONDS = 60


class ServiceTokenUnavailable(MyShopError):
    code = "SERVICE_UNAVAILABLE"


class ServiceTokens:
    def __init__(
        self,
        service: str,
        *,
        url: str,
        secret: str,
        http: httpx.AsyncClient | None,
        issuer: TokenIssuer | None = None,
    ) -> None:
        if not url and issuer is None:
            raise ValueError("service tokens need a token URL or a local signing key")
        self.service = service
        self.url = url
        self.secret = secret
        self.http = http
        self.issuer = issuer
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def local(cls, service: str, keys: KeyRing, *, issuer: str, audience: str) -> ServiceTokens:
        token_issuer = TokenIssuer(keys, issuer=issuer, audience=audience, ttl_seconds=300)
        return cls(service, url="", secret="", http=None, issuer=token_issuer)

    async def token(self) -> str:
        if self._token is not None and time.monotonic() < self._renew_at:
            return self._token
        async with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._token, lifetime = await self._fetch()
                self._renew_at = time.monotonic() + max(lifetime - RENEW_MARGIN_SECONDS, lifetime / 2)
        return self._token

    async def _fetch(self) -> tuple[str, float]:
        if self.issuer is not None or self.http is None:
            assert self.issuer is not None
            issued = self.issuer.issue_service_token(self.service)
            return issued.token, issued.expires_at.timestamp() - time.time()
        try:
            response = await self.http.post(
                self.url,
                data={"grant_type": "client_credentials", "client_id": self.service},
                auth=(self.service, self.secret),
                timeout=5.0,
            )
        except httpx.HTTPError as exc:
            raise ServiceTokenUnavailable(f"the token service is unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise ServiceTokenUnavailable(f"the token service refused this service ({response.status_code})")
        body = response.json()
        return body["access_token"], float(body.get("expires_in", 300))
