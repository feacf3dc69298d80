"""Account rules beyond sign-in: verifying the email address, resetting a forgotten password, changing the
profile, the password and the email address.

A token mailed to the user (account_tokens) proves they read mail at the address it was sent to; it works
once, and only while that address is still the account's (or, for an email change, still free). A wrong,
used or expired token gets one answer (BAD_USER_INPUT, field `token`), so trying one tells nothing. The
answers of `requestPasswordReset` and `changeEmail` do not say whether an address has an account.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared.auth import Principal
from shared.errors import BadUserInput, Conflict, MyShopError
from shared.ratelimit import Limit
from subgraphs.users import account_events, account_tokens, repository
from subgraphs.users.account_tokens import Purpose
from subgraphs.users.models import User
from subgraphs.users.service import SignedIn, UserService, check_password, clean_name, normalize_email
from subgraphs.users.state import InRequest

BAD_TOKEN = "This code is wrong, used or expired; ask for a new one."


def _same_address(a: str, b: str) -> bool:
    # The unique index is on lower(email): two addresses equal but for case are one account's.
    return a.lower() == b.lower()


def _field(error: MyShopError, field: str) -> MyShopError:
    """`error` about the argument `field` (check_password names `password`; these mutations name theirs)."""
    error.field = field
    return error


class Accounts(InRequest):
    async def _redeem(self, purpose: Purpose, token: str) -> tuple[User, str]:
        """The user a valid token of `purpose` is for (row locked) and the address it was mailed to."""
        token = token.strip()
        user_id = await account_tokens.owner(self.session, purpose, token)
        # The user's row first, then the token's: the order of every other writer of a user's tokens.
        user = await repository.get(self.session, user_id, for_update=True) if user_id is not None else None
        row = await account_tokens.consume(self.session, purpose, token) if user is not None else None
        if user is None or row is None or row.user_id != user.id:
            raise BadUserInput(BAD_TOKEN, field="token")
        return user, row.email

    # --- verification ---

    async def verify_email(self, token: str) -> User:
        user, email = await self._redeem(Purpose.VERIFY_EMAIL, token)
        # Mailed to an address the account has since left: it proves nothing about the current one.
        if not _same_address(email, user.email):
            raise BadUserInput(BAD_TOKEN, field="token")
        if user.email_verified_at is None:
            user.email_verified_at = datetime.now(UTC)
            await self.session.flush()
            await account_events.email_verified(self.session, user)
        return user

    async def resend_verification(self, principal: Principal) -> bool:
        """Mail a new verification token (the earlier one stops working); False when already verified."""
        user = await self.signed_in_user(principal)
        if user.email_verified_at is not None:
            return False
        await self.state.limiter.enforce(
            f"users:verification:user:{user.id}",
            Limit(
                self.settings.verification_resend_attempts, self.settings.verification_resend_window_seconds
            ),
            "Too many verification mails; try again later.",
        )
        await account_events.verification_requested(self.session, self.settings, user)
        return True

    # --- password reset ---

    async def request_password_reset(self, raw_email: str) -> bool:
        """Mail a reset token to the account of `raw_email`, if any; True whatever happened, in the same time.

        A known address costs a token, an event and a commit that flushes the WAL; an unknown one nothing:
        ~1.6 ms less (bench/register_timing.py), enough to tell them apart. So the unknown path also takes a
        transaction id (its commit then flushes like a writing one) and both answer no sooner than a floor.
        """
        settings = self.settings
        started = time.monotonic()
        await self.state.limiter.enforce(
            f"users:reset:address:{self.context.client_ip}",
            Limit(settings.password_reset_address_attempts, settings.password_reset_address_window_seconds),
            "Too many password reset requests from this address; try again later.",
        )
        email = normalize_email(raw_email)
        # Counted per address asked for, known or not (the same Redis step either way; only a digest is kept).
        # Over the limit the answer stays the same: no mail, and nothing learned.
        decision = await self.state.limiter.hit(
            f"users:reset:email:{hashlib.sha256(email.lower().encode()).hexdigest()}",
            Limit(settings.password_reset_account_mails, settings.password_reset_account_window_seconds),
        )
        user = await repository.get_by_email(self.session, email, for_update=True)
        if user is not None and decision.allowed:
            await account_events.password_reset_requested(self.session, settings, user)
        else:
            await self.session.execute(text("SELECT txid_current()"))
        await asyncio.sleep(
            max(0.0, settings.password_reset_answer_floor_seconds - (time.monotonic() - started))
        )
        return True

    async def reset_password(self, token: str, new_password: str) -> bool:
        try:
            check_password(new_password)
        except BadUserInput as exc:
            raise _field(exc, "newPassword") from exc
        user, email = await self._redeem(Purpose.RESET_PASSWORD, token)
        if not _same_address(email, user.email):
            raise BadUserInput(BAD_TOKEN, field="token")
        # Sessions end before the new hash is made: the ~65 ms between keep a token issued right after this
        # request (iat in milliseconds) clear of the revocation's timestamp.
        await self.end_every_session(user.id)
        user.password_hash = await self.state.passwords.hash(new_password)
        # The mail reached the owner: that proves the address as well as a verification would.
        if user.email_verified_at is None:
            user.email_verified_at = datetime.now(UTC)
        await account_tokens.void(self.session, user.id, Purpose.RESET_PASSWORD)
        await self.session.flush()
        await account_events.password_changed(self.session, user, reason="RESET")
        return True

    # --- profile and credentials ---

    async def update_me(self, principal: Principal, name: str) -> User:
        new_name = clean_name(name)
        user = await self.signed_in_user(principal)
        user.name = new_name
        await self.session.flush()
        return user

    async def change_password(self, principal: Principal, current: str, new_password: str) -> SignedIn:
        """Set a new password; every session ends, this device gets a fresh one."""
        try:
            check_password(new_password)
        except BadUserInput as exc:
            raise _field(exc, "newPassword") from exc
        user = await self.signed_in_user(principal)
        await self.prove_password(user, current, "currentPassword")
        await self.end_every_session(user.id)  # before the hash, as in reset_password
        user.password_hash = await self.state.passwords.hash(new_password)
        await account_tokens.void(self.session, user.id, Purpose.RESET_PASSWORD)
        await self.session.flush()
        await account_events.password_changed(self.session, user, reason="CHANGED")
        return await UserService(self.context)._sign_in(user)

    async def change_email(self, principal: Principal, raw_new_email: str, password: str) -> bool:
        """Mail a token to the new address (and a notice to the current one); True whatever the address.

        An address that already has an account gets nothing: the answer cannot tell it apart, and the
        account owner is not told of someone wanting their address.
        """
        try:
            new_email = normalize_email(raw_new_email)
        except BadUserInput as exc:
            raise _field(exc, "newEmail") from exc
        user = await self.signed_in_user(principal)
        await self.state.limiter.enforce(
            f"users:email-change:user:{user.id}",
            Limit(self.settings.email_change_attempts, self.settings.email_change_window_seconds),
            "Too many email changes; try again later.",
        )
        await self.prove_password(user, password, "password")
        if _same_address(new_email, user.email):
            raise BadUserInput("This is already your email address.", field="newEmail")
        # The address or a look-alike of it (emails.py's skeleton) has another account.
        taken = await repository.account_with_address(self.session, new_email)
        if taken is not None and taken.id != user.id:
            # Its commit flushes like the other path's (see request_password_reset); 5 tries an hour and the
            # password check's own spread leave too few samples for the token's small extra cost to show.
            await self.session.execute(text("SELECT txid_current()"))
            return True
        await account_events.email_change_requested(self.session, self.settings, user, new_email)
        return True

    async def confirm_email_change(self, token: str) -> User:
        user, new_email = await self._redeem(Purpose.CHANGE_EMAIL, token)
        previous = user.email
        taken = await repository.account_with_address(self.session, new_email)
        if taken is not None and taken.id != user.id:
            raise Conflict("This address has an account now.", field="email")
        try:
            # A savepoint: a sign-up taking the address meanwhile answers CONFLICT, not INTERNAL.
            async with self.session.begin_nested():
                user.email = new_email
                user.email_verified_at = datetime.now(UTC)
                await self.session.flush()
        except IntegrityError as exc:
            if repository.address_taken(exc):
                raise Conflict("This address has an account now.", field="email") from exc
            raise
        # Tokens mailed to the old address (verification, reset) stop working with it.
        await account_tokens.void(self.session, user.id, Purpose.VERIFY_EMAIL)
        await account_tokens.void(self.session, user.id, Purpose.RESET_PASSWORD)
        await account_events.email_changed(self.session, user, previous)
        return user
