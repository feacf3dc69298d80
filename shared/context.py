"""The per-process runtime (engine, Redis, token verifier, ...) and the per-request GraphQL context."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from shared.auth import KeyRing, Principal, TokenVerifier
from shared.auth.service_tokens import ServiceTokens
from shared.errors import Unauthenticated
from shared.metrics import Metrics
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from shared.app import SubgraphDefinition

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What one service process holds for its whole life; built in the app's lifespan."""

    definition: SubgraphDefinition
    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    http: httpx.AsyncClient
    verifier: TokenVerifier
    metrics: Metrics
    keys: KeyRing | None = None
    # SERVICE tokens for calls to peer services (None when this process can get none).
    service_tokens: ServiceTokens | None = None
    # Service-specific long-lived objects (token issuer, rate limiter, ...), set by the definition's setup.
    state: dict[str, Any] = field(default_factory=dict)


class Context(BaseContext):
    """One per request: the request's database session (one transaction), caller, and DataLoaders."""

    def __init__(self, runtime: Runtime, connection: HTTPConnection) -> None:
        super().__init__()
        self.runtime = runtime
        self.settings = runtime.settings
        self.redis = runtime.redis
        self.connection = connection
        self._session: AsyncSession | None = None
        self._principal: Principal | None = None
        self._auth_error: Unauthenticated | None = None
        self._authenticated = False
        self._auth_lock = asyncio.Lock()
        self.loaders = runtime.definition.build_loaders(self)

    # --- the request's transaction ---
    @property
    def session(self) -> AsyncSession:
        """Opened on first use; committed once when the operation succeeds, rolled back otherwise."""
        if self._session is None:
            self._session = self.runtime.sessionmaker()
        return self._session

    async def finish(self, *, commit: bool) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if commit:
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()

    # --- the caller ---
    @property
    def bearer_token(self) -> str | None:
        header = self.connection.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else ""

    async def principal(self) -> Principal | None:
        """The verified caller, None when anonymous; a bad token raises UNAUTHENTICATED."""
        # Sibling fields resolve concurrently: the first verifies, the others wait for its answer (marking
        # the context verified before the await made them see "anonymous" meanwhile).
        async with self._auth_lock:
            if not self._authenticated:
                token = self.bearer_token
                if token == "":
                    self._auth_error = Unauthenticated("The Authorization header must be `Bearer <token>`.")
                elif token is not None:
                    try:
                        self._principal = await self.runtime.verifier.verify(token)
                    except Unauthenticated as exc:
                        self._auth_error = exc
                self._authenticated = True
        if self._auth_error is not None:
            raise self._auth_error
        return self._principal

    @property
    def verified_principal(self) -> Principal | None:
        """The caller when this request already verified its token, else None; never verifies (for cheap
        attribution, such as counting a read)."""
        return self._principal if self._authenticated else None

    async def require_principal(self) -> Principal:
        principal = await self.principal()
        if principal is None:
            raise Unauthenticated("Sign in first: this needs an access token.")
        return principal

    @property
    def client_ip(self) -> str:
        """The client's address; `X-Forwarded-For` is believed only when it comes from a trusted proxy."""
        peer = self.connection.client.host if self.connection.client else "unknown"
        trusted = self.runtime.state.get("trusted_proxies", ("127.0.0.1", "::1"))
        forwarded = self.connection.headers.get("x-forwarded-for")
        if forwarded and peer in trusted:
            for address in reversed([part.strip() for part in forwarded.split(",")]):
                if address and address not in trusted:
                    return address
        return peer
