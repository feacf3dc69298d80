"""The users subgraph: accounts, sign-in, JWT issuing and the public keys at /.well-known/jwks.json."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.auth import RevocationStore, TokenIssuer
from shared.context import Runtime
from shared.outage import Outage
from shared.ratelimit import RateLimiter
from subgraphs.users.loaders import build_loaders
from subgraphs.users.models import outbox
from subgraphs.users.oauth import logger as oauth_logger
from subgraphs.users.oauth import service_token
from subgraphs.users.passwords import Passwords
from subgraphs.users.schema import schema
from subgraphs.users.sessions import RefreshTokens, session_id_key
from subgraphs.users.settings import UsersSettings
from subgraphs.users.state import UsersState
from subgraphs.users.throttle import Backoff, LoginThrottle


def login_backoff(settings: UsersSettings) -> Backoff:
    return Backoff(
        free_failures=settings.login_free_failures,
        base_seconds=settings.login_backoff_base_seconds,
        max_seconds=settings.login_backoff_max_seconds,
        pair_memory_seconds=settings.login_pair_memory_seconds,
        ceiling_attempts=settings.login_account_ceiling_attempts,
        ceiling_window_seconds=settings.login_account_ceiling_window_seconds,
        known_address_seconds=settings.login_known_address_seconds,
    )


async def setup(runtime: Runtime[UsersState]) -> UsersState:
    settings = runtime.settings
    if not isinstance(settings, UsersSettings):
        raise TypeError("the users service runs with UsersSettings")
    if runtime.keys is None:
        raise RuntimeError("the users service needs its signing key ring")
    passwords = Passwords.from_settings(settings)
    await passwords.warm_up()
    return UsersState(
        settings=settings,
        passwords=passwords,
        tokens=TokenIssuer(
            runtime.keys,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.access_token_ttl_seconds,
        ),
        refresh_tokens=RefreshTokens(
            runtime.redis,
            settings.redis_prefix,
            ttl_seconds=settings.refresh_token_ttl_seconds,
            session_id_key=session_id_key(settings.service_secret),
            grace_seconds=settings.refresh_grace_seconds,
        ),
        revocations=RevocationStore(runtime.redis, settings.redis_prefix),
        limiter=RateLimiter(runtime.redis, settings.redis_prefix),
        login_throttle=LoginThrottle(runtime.redis, settings.redis_prefix, login_backoff(settings)),
        token_throttle_outage=Outage(oauth_logger, max_backoff=5.0),
    )


def add_routes(app: FastAPI) -> None:
    @app.get("/.well-known/jwks.json")
    async def jwks(request: Request) -> JSONResponse:
        runtime: Runtime[UsersState] = request.app.state.runtime
        keys = runtime.keys.jwks() if runtime.keys is not None else {"keys": []}
        max_age = runtime.state.settings.jwks_cache_seconds
        return JSONResponse(keys, headers={"Cache-Control": f"public, max-age={max_age}"})

    # Service tokens (subgraphs/users/oauth.py), throttled per client address and client id.
    app.post("/oauth/token")(service_token)


definition = SubgraphDefinition[UsersState](
    name="users",
    settings_class=UsersSettings,
    schema=schema,
    build_loaders=build_loaders,
    signs_tokens=True,
    setup=setup,
    add_routes=add_routes,
    outbox=outbox,
)


def build_app(settings: UsersSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings or UsersSettings())
