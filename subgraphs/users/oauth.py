"""`POST /oauth/token`: OAuth 2 client credentials for services (HTTP Basic: the service's name and the shared
service secret), throttled per client address and per client id so the secret cannot be guessed at leisure.

Only failures count: each attempt is counted before the secret is checked (so concurrent guesses cannot slip
past the limit together) and a success takes its count back. Over a limit the answer is 429 with
`Retry-After`, in OAuth's error shape with `slow_down` (the registered token-endpoint error for "too often").
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from fastapi import Request
from fastapi.responses import JSONResponse

from shared.context import Runtime
from shared.ratelimit import Limit
from shared.redis_client import REDIS_UNAVAILABLE
from subgraphs import registry
from subgraphs.users.state import UsersState

logger = logging.getLogger(__name__)

SERVICE_TOKEN_TTL_SECONDS = 300


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(name, secret) of an HTTP Basic `Authorization` header; None when it is not one."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        name, _, given = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return name, given


def service_client(authorization: str | None, secret: str) -> str | None:
    """The service named by HTTP Basic credentials carrying the shared service secret; None otherwise."""
    credentials = basic_credentials(authorization)
    if credentials is None:
        return None
    name, given = credentials
    if name not in registry.SUBGRAPHS or not hmac.compare_digest(given.encode(), secret.encode()):
        return None
    return name


def _buckets(runtime: Runtime[UsersState], request: Request) -> list[tuple[str, Limit]]:
    """The buckets an attempt counts in: its address's, and its client id's when it names a service (an
    unknown name can never succeed, and keying on it would let a guesser fill Redis with names)."""
    settings = runtime.state.settings
    address = runtime.client_address(request)
    buckets = [
        (
            f"users:oauth:address:{address}",
            Limit(settings.service_token_address_failures, settings.service_token_address_window_seconds),
        )
    ]
    credentials = basic_credentials(request.headers.get("authorization"))
    if credentials is not None and credentials[0] in registry.SUBGRAPHS:
        buckets.append(
            (
                f"users:oauth:client:{credentials[0]}",
                Limit(settings.service_token_client_failures, settings.service_token_client_window_seconds),
            )
        )
    return buckets


async def _count(runtime: Runtime[UsersState], buckets: list[tuple[str, Limit]]) -> tuple[int | None, int]:
    """Counts the attempt in each bucket, the address's first (a blocked address spends no client's budget):
    (seconds to wait when one is over its limit else None, how many buckets counted it)."""
    limiter = runtime.state.limiter
    for counted, (bucket, limit) in enumerate(buckets, start=1):
        decision = await limiter.hit(bucket, limit)
        if not decision.allowed:
            return decision.retry_after, counted
    return None, len(buckets)


async def service_token(request: Request) -> JSONResponse:
    runtime: Runtime[UsersState] = request.app.state.runtime
    state = runtime.state
    form = await request.form()
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    buckets = _buckets(runtime, request)
    counted = 0
    outage = state.token_throttle_outage
    try:
        retry_after, counted = await _count(runtime, buckets)
    except REDIS_UNAVAILABLE as exc:
        # Fail open: without Redis no peer could get a token, and every service call would stop with it.
        outage.failed("/oauth/token is not throttled: Redis is unreachable (%s)", type(exc).__name__)
        retry_after = None
    else:
        outage.recovered("/oauth/token is throttled again after %.1f s")
    if retry_after is not None:
        return JSONResponse(
            {
                "error": "slow_down",
                "error_description": f"Too many failed attempts; try again in {retry_after} s.",
            },
            status_code=429,
            headers={"Retry-After": str(retry_after), "Cache-Control": "no-store"},
        )
    client = service_client(request.headers.get("authorization"), state.settings.service_secret)
    if client is None:
        return JSONResponse(
            {"error": "invalid_client"}, status_code=401, headers={"WWW-Authenticate": "Basic"}
        )
    for bucket, _ in buckets[:counted]:  # a success is no guess: take its counts back
        try:
            await state.limiter.forgive(bucket)
        except REDIS_UNAVAILABLE:
            break
    issued = state.tokens.issue_service_token(client, ttl_seconds=SERVICE_TOKEN_TTL_SECONDS)
    return JSONResponse(
        {"access_token": issued.token, "token_type": "Bearer", "expires_in": SERVICE_TOKEN_TTL_SECONDS},
        headers={"Cache-Control": "no-store"},
    )
