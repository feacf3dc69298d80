"""SQL for `account_tokens`: issuing a single-use token (only its SHA-256 is stored) and consuming it."""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.users.models import AccountToken


class Purpose(enum.StrEnum):
    VERIFY_EMAIL = "VERIFY_EMAIL"
    RESET_PASSWORD = "RESET_PASSWORD"
    CHANGE_EMAIL = "CHANGE_EMAIL"


# The shared.sealed purpose under which each kind travels in an event (the contract with notifications).
SEAL_PURPOSES: dict[Purpose, str] = {
    Purpose.VERIFY_EMAIL: "email-verification",
    Purpose.RESET_PASSWORD: "password-reset",
    Purpose.CHANGE_EMAIL: "email-change",
}

# 256 bits: guessing one is hopeless, so a wrong token needs no rate limit of its own to stay safe.
TOKEN_BYTES = 32
# A pasted code longer than this is not one of ours: refused before hashing it.
TOKEN_MAX_LENGTH = 128


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str  # the secret itself: sealed into an event, never stored
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(
    session: AsyncSession, user_id: uuid.UUID, purpose: Purpose, *, email: str, ttl_seconds: int
) -> IssuedToken:
    """A new token for `purpose`; the user's unused earlier ones of that purpose stop working."""
    await session.execute(
        delete(AccountToken).where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose.value,
            AccountToken.used_at.is_(None),
        )
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    session.add(
        AccountToken(
            user_id=user_id,
            purpose=purpose.value,
            token_hash=token_hash(token),
            email=email,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return IssuedToken(token=token, expires_at=expires_at)


def _by_token(purpose: Purpose, token: str) -> Select[tuple[AccountToken]]:
    return select(AccountToken).where(
        AccountToken.token_hash == token_hash(token), AccountToken.purpose == purpose.value
    )


async def owner(session: AsyncSession, purpose: Purpose, token: str) -> uuid.UUID | None:
    """Whose token this is, if it is one (not locked, not checked): the caller locks the user first."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    return await session.scalar(select(AccountToken.user_id).where(_by_token(purpose, token).whereclause))


async def consume(session: AsyncSession, purpose: Purpose, token: str) -> AccountToken | None:
    """The unused, unexpired token of `purpose`, now marked used; None for any other (one answer for all).

    The row is locked: two requests with one token at once, the second waits and then finds it used. Lock
    the owner's `users` row before (as every writer of a user's tokens does), never after: one order, no
    deadlock.
    """
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    statement = _by_token(purpose, token).with_for_update().execution_options(populate_existing=True)
    row = (await session.execute(statement)).scalar_one_or_none()
    now = datetime.now(UTC)
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    await session.flush()
    return row


async def void(session: AsyncSession, user_id: uuid.UUID, purpose: Purpose) -> None:
    """The user's unused tokens of `purpose` stop working (a reset done, an address changed)."""
    await session.execute(
        delete(AccountToken).where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose.value,
            AccountToken.used_at.is_(None),
        )
    )
