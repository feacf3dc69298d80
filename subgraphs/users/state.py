"""What one users process keeps for its life: built by `app.setup`, reachable as `runtime.state`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, RevocationStore, TokenIssuer
from shared.context import Context
from shared.errors import BadUserInput, Forbidden, NotFound
from shared.outage import Outage
from shared.ratelimit import RateLimiter
from subgraphs.users import repository
from subgraphs.users.models import User
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


class InRequest:
    """The base of the users domain's classes (UserService, Accounts, AddressBook, Privacy, SessionService):
    one request's context, this process's state and settings, and the request's transaction."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.state: UsersState = context.runtime.state
        self.settings: UsersSettings = self.state.settings

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    async def signed_in_user(self, principal: Principal, *, for_update: bool = True) -> User:
        """The caller's own account (its row locked until the request ends: login, refresh and role changes
        lock it too); FORBIDDEN for a service token, NOT_FOUND once the account is gone."""
        if principal.user_id is None:
            raise Forbidden("Only a signed-in user has an account.")
        user = await repository.get(self.session, uuid.UUID(principal.user_id), for_update=for_update)
        if user is None:
            raise NotFound("Your account no longer exists.")
        return user

    async def prove_password(self, user: User, password: str, field: str) -> None:
        """The account's password given again for a sensitive action, throttled like a login (a stolen
        session is no password oracle); a wrong one is BAD_USER_INPUT naming the argument `field`."""
        account, address = user.email.lower(), self.context.client_ip
        await self.state.login_throttle.claim(account, address)
        verification = await self.state.passwords.verify(user.password_hash, password)
        if not verification.ok:
            raise BadUserInput("Wrong password.", field=field, reason="credentials")
        await self.state.login_throttle.succeeded(account, address)

    async def end_every_session(self, user_id: object) -> None:
        """Every refresh token and access token of the user stops working now, not when it expires. Called
        before the request's commit, while it holds the user's row: a login or refresh meanwhile waits for
        the lock, so the token it then issues is either older than this (revoked) or sees the change."""
        await self.state.refresh_tokens.revoke_user(str(user_id))
        await self.state.revocations.revoke_user(
            str(user_id), keep_seconds=self.settings.access_token_ttl_seconds
        )
