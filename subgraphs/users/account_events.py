"""The account events (events.py lists them): their payloads, and the tokens sealed into them.

One module writes them all, so the contract with notifications (payload keys, seal purposes) is in one place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.sealed import seal
from subgraphs.users import account_tokens
from subgraphs.users.account_tokens import Purpose
from subgraphs.users.events import UserEvent
from subgraphs.users.models import User, outbox
from subgraphs.users.settings import UsersSettings


def _ttl(settings: UsersSettings, purpose: Purpose) -> int:
    return {
        Purpose.VERIFY_EMAIL: settings.verification_token_ttl_seconds,
        Purpose.RESET_PASSWORD: settings.password_reset_token_ttl_seconds,
        Purpose.CHANGE_EMAIL: settings.email_change_token_ttl_seconds,
    }[purpose]


async def _token(
    session: AsyncSession, settings: UsersSettings, user: User, purpose: Purpose, email: str
) -> tuple[str, datetime]:
    """A new token for `purpose` mailed to `email`: (sealed for the event, expiry)."""
    issued = await account_tokens.issue(
        session, user.id, purpose, email=email, ttl_seconds=_ttl(settings, purpose)
    )
    return seal(
        settings.service_secret, account_tokens.SEAL_PURPOSES[purpose], issued.token
    ), issued.expires_at


async def _emit(session: AsyncSession, event: UserEvent, user: User, payload: dict[str, Any]) -> None:
    await outbox.emit(session, event, {"userId": user.id, **payload}, aggregate_id=user.id)


async def registered(session: AsyncSession, settings: UsersSettings, user: User) -> None:
    sealed, expires_at = await _token(session, settings, user, Purpose.VERIFY_EMAIL, user.email)
    await _emit(
        session,
        UserEvent.USER_REGISTERED,
        user,
        {
            "email": user.email,
            "name": user.name,
            "at": user.created_at,
            "verificationToken": sealed,
            "verificationExpiresAt": expires_at,
        },
    )


async def sign_up_attempted(session: AsyncSession, user: User) -> None:
    payload = {"email": user.email, "name": user.name, "at": datetime.now(UTC)}
    await _emit(session, UserEvent.SIGN_UP_ATTEMPTED, user, payload)


async def _token_mail(
    session: AsyncSession,
    settings: UsersSettings,
    event: UserEvent,
    user: User,
    purpose: Purpose,
    *,
    email: str,
    **extra: Any,
) -> None:
    """An event whose mail carries a new `purpose` token to `email` (payload: email, name, token, expiresAt,
    at, and `extra`)."""
    sealed, expires_at = await _token(session, settings, user, purpose, email)
    payload = {"email": email, **extra, "name": user.name, "token": sealed, "expiresAt": expires_at}
    await _emit(session, event, user, {**payload, "at": datetime.now(UTC)})


async def verification_requested(session: AsyncSession, settings: UsersSettings, user: User) -> None:
    event = UserEvent.EMAIL_VERIFICATION_REQUESTED
    await _token_mail(session, settings, event, user, Purpose.VERIFY_EMAIL, email=user.email)


async def email_verified(session: AsyncSession, user: User) -> None:
    await _emit(session, UserEvent.EMAIL_VERIFIED, user, {"email": user.email, "at": user.email_verified_at})


async def password_reset_requested(session: AsyncSession, settings: UsersSettings, user: User) -> None:
    event = UserEvent.PASSWORD_RESET_REQUESTED
    await _token_mail(session, settings, event, user, Purpose.RESET_PASSWORD, email=user.email)


async def password_changed(session: AsyncSession, user: User, *, reason: str) -> None:
    payload = {"email": user.email, "name": user.name, "at": datetime.now(UTC), "reason": reason}
    await _emit(session, UserEvent.PASSWORD_CHANGED, user, payload)


async def email_change_requested(
    session: AsyncSession, settings: UsersSettings, user: User, new_email: str
) -> None:
    # `email` is the NEW address (the token is for it); the notice goes to `previousEmail`.
    event = UserEvent.EMAIL_CHANGE_REQUESTED
    await _token_mail(
        session, settings, event, user, Purpose.CHANGE_EMAIL, email=new_email, previousEmail=user.email
    )


async def email_changed(session: AsyncSession, user: User, previous_email: str) -> None:
    payload = {
        "email": user.email,
        "previousEmail": previous_email,
        "name": user.name,
        "at": datetime.now(UTC),
    }
    await _emit(session, UserEvent.EMAIL_CHANGED, user, payload)
