"""The per-process runtime (engine, Redis, token verifier, ...) and the per-request GraphQL context."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from shared import db
from shared.auth import KeyRing, Principal, TokenVerifier
from shared.auth.service_tokens import ServiceTokens
from shared.client_address import FORWARDED_FOR, TrustedPeers
from shared.errors import Unauthenticated
from shared.metrics import Metrics
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from shared.app import SubgraphDefinition

logger = logging.getLogger(__name__)

# A service's own per-process state (`subgraphs/<name>/state.py`: `<Name>State`).
StateT = TypeVar("StateT")


@dataclass
class Runtime(Generic[StateT]):
    """What one service process holds for its whole life; built in the app's lifespan."""

    definition: SubgraphDefinition[StateT]
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
    # The service's OpenTelemetry tracer when spans are recorded (shared.telemetry); None otherwise.
    tracer: Any = None
    # The service's own long-lived objects, one typed `<Name>State` per service (`subgraphs/<name>/state.py`):
    # what the definition's setup returns. None before setup ran.
    state: StateT = None  # type: ignore[assignment]
    # Peers whose `X-Forwarded-For` is believed (`Context.client_ip`): `settings.trusted_routers`.
    trusted_routers: TrustedPeers = field(init=False)
    # Revocation look-ups of the process's subscriptions, batched into one MGET per event (`reauthorize`).
    revocation_checks: DataLoader[Principal, bool] | None = None
    # Sessions in autocommit for the queries of a service whose queries only read (`Context.reads_only`);
    # None when its queries take a transaction like everything else (always behind PgBouncer).
    query_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    def __post_init__(self) -> None:
        self.trusted_routers = TrustedPeers(self.settings.trusted_routers)

    def client_address(self, connection: HTTPConnection) -> str:
        """The address of the client of `connection` (an HTTP request or a WebSocket): the peer, or the
        address a trusted router names in `X-Forwarded-For` (the router overwrites any the client sent)."""
        peer = connection.client.host if connection.client else None
        forwarded = connection.headers.getlist(FORWARDED_FOR)
        return self.trusted_routers.client_address(peer, ",".join(forwarded) if forwarded else None)


class Context(BaseContext):
    """One per request: the request's database session (one transaction), caller, and DataLoaders."""

    def __init__(self, runtime: Runtime[Any], connection: HTTPConnection) -> None:
        super().__init__()
        self.runtime = runtime
        self.settings = runtime.settings
        self.redis = runtime.redis
        self.connection = connection
        self._session: AsyncSession | None = None
        self._principal: Principal | None = None
        self._authenticated = False
        self._verifying: asyncio.Future[Principal | None] | None = None
        self._revocation_checked_at = 0.0
        # Work to do once the request's transaction has committed (cache invalidation); None until asked.
        self._after_commit: list[Callable[[], Awaitable[None]]] | None = None
        # Work that undoes what the request did outside the database if its transaction does not commit.
        self._after_rollback: list[Callable[[], Awaitable[None]]] | None = None
        # What graphql-core's executor left running when a field failed (the siblings of a failed non-null
        # field settle in the background: `RequestLifecycle`'s executor hands over its set of them).
        self.background_work: Collection[asyncio.Future[Any]] = ()
        self._ended = False
        # A query operation of a service whose queries only read (`RequestLifecycle` says so): its session
        # is in autocommit where the runtime allows it.
        self.reads_only = False
        self._loaders: Any = None

    def for_operation(self) -> Context:
        """A context of its own for one operation of a WebSocket connection (its own session and loaders),
        with the connection's `connection_init` payload: operations of one connection run concurrently."""
        context = Context(self.runtime, self.connection)
        context.connection_params = self.connection_params
        return context

    # --- the request's transaction ---
    @property
    def session(self) -> AsyncSession:
        """Opened on first use; committed once when the operation succeeds, rolled back otherwise."""
        if self._session is None:
            if self._ended:
                # Work still running after the request's end (a DataLoader batch whose callers were
                # cancelled) would open a session nobody closes: its connection leaks until the garbage
                # collector terminates it.
                raise RequestEnded("This request's transaction has ended: no session opens after it.")
            maker = self.runtime.query_sessionmaker if self.reads_only else None
            self._session = (maker or self.runtime.sessionmaker)()
        return self._session

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await `callback` once this request's transaction has committed, before the response leaves; never
        after a rollback. A callback that raises is logged: the change is saved all the same."""
        if self._after_commit is None:
            self._after_commit = []
        self._after_commit.append(callback)

    def after_rollback(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await `callback` if this request's transaction ends without committing (rolled back, or its commit
        failed): to undo work done outside the database (a file written for a row that is never saved). A
        callback that raises is logged."""
        if self._after_rollback is None:
            self._after_rollback = []
        self._after_rollback.append(callback)

    async def end(self, *, commit: bool) -> None:
        """The request's own end (`RequestLifecycle`): once the work the operation left running has
        settled, commit or roll back and close the session; no session opens after it. (`finish` ends one
        transaction only: a subscription's next event, or a service's own mid-request step, opens another.)"""
        self._ended = True
        # Those fields' results are discarded, but they may be using the session: close it after them.
        while pending := [work for work in self.background_work if not work.done()]:
            await asyncio.wait(pending)
        await self.finish(commit=commit)

    async def finish(self, *, commit: bool) -> None:
        session, self._session = self._session, None
        callbacks, self._after_commit = self._after_commit, None
        undo, self._after_rollback = self._after_rollback, None
        if session is None:
            return
        # A session that never held a connection (its reads ran on the driver: `shared.db.PreparedRead`) and
        # has nothing to write: committing, rolling back or closing it would change nothing.
        idle = db.idle(session)
        committed = False
        try:
            if not commit:
                callbacks = None
                if not idle:
                    await session.rollback()
            else:
                if not idle:
                    await session.commit()
                committed = True
        finally:
            if not idle:
                await session.close()
            if not committed:
                await _run_quietly(undo, "an after-rollback callback failed")
        for callback in callbacks or ():
            try:
                await callback()
            except Exception:
                logger.exception("an after-commit callback failed")

    async def between_events(self) -> None:
        """Between two events of a subscription: close the session the last event's fields used and forget
        what the loaders cached, so a long-lived subscription never holds a transaction or stale rows."""
        if self._session is None:  # the event's fields read nothing: the loaders cached nothing either
            return
        await self.finish(commit=False)
        self._loaders = None

    @property
    def loaders(self) -> Any:
        """The request's DataLoaders, built on first use: many calls a subgraph answers (a peer's step of a
        saga, a listing) use none, and a service builds a set of them (products: six) per request."""
        if self._loaders is None:
            self._loaders = self.runtime.definition.build_loaders(self)
        return self._loaders

    # --- the caller ---
    @property
    def bearer_token(self) -> str | None:
        # Over WebSocket the token comes in `connection_init`'s payload (`{"Authorization": "Bearer ..."}`,
        # any case), else in the upgrade request's header.
        header = _authorization_param(self.connection_params) if self.connection_params else None
        if header is None:
            header = self.connection.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else ""

    async def principal(self) -> Principal | None:
        """The verified caller, None when anonymous; a bad token raises UNAUTHENTICATED (for every asker).

        Sibling fields ask together (an order's payment, for each order of a page), then each asks a
        DataLoader for a row. The first starts the verification and all await the same future, so they
        resume in the same event-loop turn and their loads make one batch (behind a lock they resumed one per
        turn: 7 queries for a page of 20 orders' payments). Shielded: an asker cancelled (its field abandoned)
        does not cancel the answer the others await; once it is there, awaiting it does not yield."""
        if self._verifying is None:
            self._verifying = asyncio.ensure_future(self._verify())
        return await asyncio.shield(self._verifying)

    async def _verify(self) -> Principal | None:
        token = self.bearer_token
        if token == "":
            raise Unauthenticated("The Authorization header must be `Bearer <token>`.")
        principal = await self.runtime.verifier.verify(token) if token is not None else None
        self._principal = principal
        self._authenticated = True
        return principal

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

    async def reauthorize(self, *, revocation_every: float = 1.0) -> Principal:
        """For a long-lived operation (a subscription), before each event: the caller, or UNAUTHENTICATED once
        its token has expired or been revoked (logout, role change). Revocation costs a Redis read, so it is
        looked up at most once per `revocation_every` seconds per operation."""
        principal = await self.require_principal()
        if time.time() > principal.expires_at + self.runtime.verifier.leeway:
            raise Unauthenticated("Access token has expired.", reason="expired")
        now = time.monotonic()
        revocations = self.runtime.verifier.revocations
        if revocations is not None and now - self._revocation_checked_at >= revocation_every:
            self._revocation_checked_at = now
            # An event reaches every subscription of the process at once: their checks share one MGET.
            checks = self.runtime.revocation_checks
            if checks is None:
                checks = self.runtime.revocation_checks = DataLoader(
                    load_fn=revocations.revoked_among, cache=False
                )
            if await checks.load(principal):
                raise Unauthenticated("Access token has been revoked.", reason="revoked")
        return principal

    @property
    def client_ip(self) -> str:
        """The client's address (the per-address rate limits' key); `X-Forwarded-For` is believed only from a
        trusted router (`MYSHOP_TRUSTED_ROUTERS`)."""
        return self.runtime.client_address(self.connection)


class RequestEnded(RuntimeError):
    """A request's session was asked for after the request ended."""


def _authorization_param(params: object) -> str | None:
    """The `Authorization` entry of a `connection_init` payload, whatever its key's case."""
    if not isinstance(params, dict):
        return None
    for key, value in params.items():
        if isinstance(key, str) and key.lower() == "authorization":
            # Not a string: a malformed header, answered like one (UNAUTHENTICATED).
            return value if isinstance(value, str) else "invalid"
    return None


async def _run_quietly(callbacks: list[Callable[[], Awaitable[None]]] | None, failure: str) -> None:
    for callback in callbacks or ():
        try:
            await callback()
        except Exception:
            logger.exception(failure)
