"""The users domain: accounts, sign-in, sessions, roles. Rules here; SQL in repository, Redis in sessions.

Every action runs in the request's transaction (`context.session`): this module flushes, never commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from shared.auth import AccessToken, Principal, Role
from shared.errors import BadUserInput, Conflict, Forbidden, NotFound, Unauthenticated
from shared.ids import parse_uuid, uuid_or_none
from shared.pagination import (
    newest_first_cursor,
    newest_first_position,
    page_size,
)
from shared.ratelimit import Limit
from subgraphs.users import account_events, emails, repository
from subgraphs.users.events import UserEvent
from subgraphs.users.models import USER_ROLE_NAMES, User, outbox
from subgraphs.users.session_service import end_family, revoke_family_access, seen_from
from subgraphs.users.sessions import Rotation
from subgraphs.users.state import InRequest

logger = logging.getLogger("myshop.users")

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
NAME_MAX_LENGTH = 200
CURSOR_KIND = "users"


@dataclass(frozen=True)
class SignedIn:
    """A user just proved who they are: their new access token and refresh token."""

    user: User
    access: AccessToken
    refresh_token: str


@dataclass(frozen=True)
class Registered:
    """What `register` answers: the same for a new address and one that has an account."""

    email: str


@dataclass(frozen=True)
class UserPage:
    users: list[User]  # up to size + 1: the extra one says there is a next page
    size: int
    has_previous: bool
    total_count: int


# --- input rules (pure functions, so they are easy to test and reuse in seed) ---


def normalize_email(raw: str) -> str:
    """The canonical address (emails.canonical: NFKC-stable, one script per part, IDNA domain; syntax only, no
    DNS lookup on the request path)."""
    return emails.canonical(raw).address


def check_password(password: str) -> None:
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise BadUserInput(
            f"The password must have {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
            field="password",
        )


def clean_name(raw: str) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise BadUserInput(f"The name must have 1 to {NAME_MAX_LENGTH} characters.", field="name")
    return name


def canonical_roles(roles: Iterable[str]) -> list[str]:
    """Each role once, in one fixed order, so equal role sets compare equal."""
    wanted = {str(role) for role in roles}
    unknown = wanted.difference(USER_ROLE_NAMES)
    if unknown:
        raise BadUserInput(f"Unknown roles: {', '.join(sorted(unknown))}.", field="roles")
    if not wanted:
        raise BadUserInput("A user needs at least one role.", field="roles")
    return [role for role in USER_ROLE_NAMES if role in wanted]


def user_cursor(created_at: datetime, user_id: object) -> str:
    return newest_first_cursor(CURSOR_KIND, created_at, user_id)


def _keyset(cursor: str) -> tuple[datetime, uuid.UUID]:
    return newest_first_position(cursor, CURSOR_KIND)


def _login_key(raw_email: str) -> str | None:
    return emails.login_key(raw_email)


class UserService(InRequest):
    # --- accounts ---

    async def register(self, *, email: str, password: str, name: str) -> Registered:
        """Create an unverified CUSTOMER account and mail it a verification token; signs nobody in.

        The answer is the same whether or not the address has an account, and costs the same (one password
        hash either way): the owner of an existing account is told by mail (`SignUpAttempted`) instead.
        """
        await self.state.limiter.enforce(
            f"users:register:address:{self.context.client_ip}",
            Limit(self.settings.register_address_attempts, self.settings.register_address_window_seconds),
            "Too many sign-ups from this address; try again later.",
        )
        email = normalize_email(email)
        name = clean_name(name)
        check_password(password)
        answer = Registered(email=email)
        password_hash = await self.state.passwords.hash(password)
        try:
            # No "taken?" read first: both paths try the insert, so they cost alike (a read and an early
            # return answered a taken address ~15% faster, measured by bench/register_timing.py). The unique
            # index decides, also between two sign-ups at once; the savepoint keeps the transaction usable.
            async with self.session.begin_nested():
                user = await repository.add(
                    self.session,
                    email=email,
                    name=name,
                    password_hash=password_hash,
                    roles=[Role.CUSTOMER.value],
                )
        except IntegrityError as exc:
            # The address, or a look-alike of it (same TR39 skeleton: emails.py), has an account.
            if not repository.address_taken(exc):
                raise
            # The index waited for a concurrent winner's commit, so the owner is found either way.
            existing = await repository.account_with_address(self.session, email)
            if existing is not None:
                await account_events.sign_up_attempted(self.session, existing)
            return answer
        await account_events.registered(self.session, self.settings, user)
        return answer

    async def login(self, *, email: str, password: str) -> SignedIn:
        settings = self.settings
        # Per address first: a blocked address does not spend the accounts' budgets.
        await self.state.limiter.enforce(
            f"users:login:address:{self.context.client_ip}",
            Limit(settings.login_address_attempts, settings.login_address_window_seconds),
            "Too many sign-in attempts from this address; try again later.",
        )
        key = _login_key(email)
        account = key if key is not None else email.strip().lower()
        # Before the password hash: a refused attempt costs a Redis round trip, not an argon2 verification.
        await self.state.login_throttle.claim(account, self.context.client_ip)
        # Locked: a role change in flight finishes first, so the token never carries roles it just lost.
        user = await repository.account_for_login(self.session, emails.stored_key(email), key)
        if user is None:
            await self.state.passwords.verify_nothing(password)
            raise Unauthenticated("Wrong email or password.", reason="credentials")
        verification = await self.state.passwords.verify(user.password_hash, password)
        if not verification.ok:
            raise Unauthenticated("Wrong email or password.", reason="credentials")
        if verification.needs_rehash:
            user.password_hash = await self.state.passwords.hash(password)
        await self.state.login_throttle.succeeded(account, self.context.client_ip)
        await outbox.emit(
            self.session,
            UserEvent.USER_LOGGED_IN,
            {"userId": user.id, "at": datetime.now(UTC)},
            aggregate_id=user.id,
        )
        return await self._sign_in(user)

    def _issue_access(self, user: User, family: str) -> AccessToken:
        # The claims are read when the token is made: a verification shows at the next refresh.
        return self.state.tokens.issue(
            str(user.id),
            user.roles,
            session_id=self.state.refresh_tokens.session_id(family),
            email_verified=user.email_verified_at is not None,
        )

    async def _sign_in(self, user: User) -> SignedIn:
        sessions = self.state.refresh_tokens
        family = sessions.new_family()
        access = self._issue_access(user, family)
        refresh = await sessions.start_family(
            str(user.id), access, family=family, seen=seen_from(self.context)
        )
        for stale in await sessions.least_recently_used(
            str(user.id), keeping=self.settings.max_sessions_per_user
        ):
            await end_family(self.state, str(user.id), stale)
        return SignedIn(user=user, access=access, refresh_token=refresh.token)

    # --- sessions ---

    async def refresh(self, refresh_token: str) -> SignedIn:
        owner = await self.state.refresh_tokens.owner(refresh_token)
        if owner is None:
            raise Unauthenticated("Unknown, expired or revoked refresh token.", reason="invalid")
        family, raw_user_id = owner
        user_id = uuid_or_none(raw_user_id)
        # Locked for the same reason as in login: the roles read here are the committed, current ones.
        user = await repository.get(self.session, user_id, for_update=True) if user_id is not None else None
        if user is None:
            await self.state.refresh_tokens.revoke_family(raw_user_id, family)
            raise Unauthenticated("Unknown, expired or revoked refresh token.", reason="invalid")
        # Roles come from the database, not the old token: a role change shows at the next refresh. Issued
        # before the rotation so the pair is stored whole for the grace window in the same Redis step.
        access = self._issue_access(user, family)
        seen = seen_from(self.context)
        outcome = await self.state.refresh_tokens.rotate(refresh_token, owner, access, seen)
        if outcome.result is Rotation.REUSED:
            # Both holders of a reused token lose their access tokens now, not when they expire.
            await revoke_family_access(self.state, raw_user_id, family)
            logger.warning("refresh token reused; family revoked", extra={"user_id": raw_user_id})
            raise Unauthenticated("This refresh token was already used; sign in again.", reason="reused")
        if outcome.token is None or outcome.access is None:
            raise Unauthenticated("Unknown, expired or revoked refresh token.", reason="invalid")
        return SignedIn(user=user, access=outcome.access, refresh_token=outcome.token.token)

    async def logout(self, principal: Principal, *, refresh_token: str | None, all_sessions: bool) -> None:
        user_id = principal.user_id
        if user_id is not None and all_sessions:
            # Access tokens on the user's other devices stop working too, not only this one.
            await self.end_every_session(user_id)
        elif user_id is not None and refresh_token:
            owner = await self.state.refresh_tokens.owner(refresh_token)
            # Someone else's token is left alone: holding a token is no right to end another's session.
            if owner is not None and owner[1] == user_id:
                # The session's access tokens on every device end with it, not only the caller's.
                await end_family(self.state, user_id, owner[0])
        await self.state.revocations.revoke_token(principal.token_id, principal.expires_at)

    # --- reading users ---

    async def get_user(self, principal: Principal, raw_id: str) -> User | None:
        """Self or ADMIN; anyone else is refused before we look, so the answer tells nothing about the id."""
        user_id = uuid_or_none(raw_id)
        own = user_id is not None and principal.is_user(user_id)
        if not own and not principal.has_any_role(Role.ADMIN):
            raise Forbidden("You can only read your own account.")
        if user_id is None:
            return None
        return await self.context.loaders.user_by_id.load(user_id)

    async def me(self, principal: Principal) -> User | None:
        user_id = uuid_or_none(principal.user_id) if principal.user_id is not None else None
        if user_id is None:
            return None
        return await self.context.loaders.user_by_id.load(user_id)

    async def list_users(self, *, first: int | None, after: str | None) -> UserPage:
        size = page_size(first)
        keyset = _keyset(after) if after is not None else None
        users = await repository.page(self.session, after=keyset, limit=size + 1)
        return UserPage(
            users=users,
            size=size,
            has_previous=keyset is not None,
            total_count=await repository.count(self.session),
        )

    # --- roles ---

    async def set_roles(self, raw_user_id: str, roles: Sequence[str]) -> User:
        wanted = canonical_roles(roles)
        user_id = parse_uuid(raw_user_id, "userId", "a user id")
        if Role.ADMIN not in wanted:
            # Admins are locked before the target (always in id order), so concurrent demotions cannot
            # deadlock and cannot both pass the last-admin check.
            admins = await repository.lock_admin_ids(self.session)
            if admins == [user_id]:
                raise Conflict("This is the last ADMIN; make another user ADMIN first.", field="roles")
        user = await repository.get(self.session, user_id, for_update=True)
        if user is None:
            raise NotFound("No such user.", field="userId")
        if user.roles == wanted:
            return user
        user.roles = wanted
        await self.session.flush()
        # Old tokens carry the old roles: end every session now, access tokens included.
        await self.end_every_session(user.id)
        return user
