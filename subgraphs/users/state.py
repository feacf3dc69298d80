"""What one users process keeps for its life: built by `app.setup`, reachable as `runtime.state`."""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth import RevocationStore, TokenIssuer
from shared.outage import Outage
from shared.ratelimit import RateLimiter
from subgraphs.users.passwords import Passwords
from subgraphs.users.sessions import RefreshTokens
from subgraphs.users.settings import UsersSettings
from subgraphs.users.throttle import LoginThrottle


@dataclass(frozen=True, slots=True)
class UsersState:
    settings: UsersSettings
    passwords: Passwords
    tokens: TokenIssuer
    refresh_tokens: RefreshTokens
    revocations: RevocationStore
    limiter: RateLimiter
    login_throttle: LoginThrottle
    # Redis unreachable for /oauth/token's throttle: one WARNING when it starts, one INFO when it ends.
    token_throttle_outage: Outage
