"""The domain events the users service emits (ARCHITECTURE.md, "Events").

Each is written to the users outbox (`models.outbox`) in the transaction of the change it reports; the relay
puts it on the stream `<redis_prefix>events:users`. Where each is written:

- `UserRegistered` by `UserService.register`, right after the new account is flushed
  (payload: userId, email, name, at, verificationToken (sealed, purpose "email-verification"),
  verificationExpiresAt) — consumed by notifications (welcome and confirm-your-address mail) and analytics.
- `UserLoggedIn` by `UserService.login`, after a successful password check
  (payload: userId, at) — consumed by analytics (userActivity).
- `UserDeleted` by `privacy.Privacy.delete_me`, with the account's deletion (payload: userId, at; no email or
  name) — consumed by every service holding data of the user, to forget it (`shared.privacy`).

The account events (accounts.py; secrets in them are sealed with shared.sealed, purposes in
account_tokens.SEAL_PURPOSES), all consumed by notifications:

- `SignUpAttempted` by `register` for an address that already has an account (the answer is the same as for
  a new one; the owner is told by mail instead) (payload: userId, email, name, at).
- `EmailVerificationRequested` by `Accounts.resend_verification`
  (payload: userId, email, name, token (sealed), expiresAt, at).
- `EmailVerified` by `Accounts.verify_email` (payload: userId, email, at) — no mail.
- `PasswordResetRequested` by `Accounts.request_password_reset`, for a known account only
  (payload: userId, email, name, token (sealed), expiresAt, at).
- `PasswordChanged` by `Accounts.reset_password` (reason RESET) and `Accounts.change_password` (reason
  CHANGED) (payload: userId, email, name, at, reason).
- `EmailChangeRequested` by `Accounts.change_email`: email is the NEW address, the token is for it
  (payload: userId, email, previousEmail, name, token (sealed), expiresAt, at).
- `EmailChanged` by `Accounts.confirm_email_change` (payload: userId, email, previousEmail, name, at).

A refresh is not a login: it emits nothing. The demo seed writes accounts directly and emits nothing either.
"""

from __future__ import annotations

import enum


class UserEvent(enum.StrEnum):
    USER_REGISTERED = "UserRegistered"
    USER_LOGGED_IN = "UserLoggedIn"
    USER_DELETED = "UserDeleted"
    SIGN_UP_ATTEMPTED = "SignUpAttempted"
    EMAIL_VERIFICATION_REQUESTED = "EmailVerificationRequested"
    EMAIL_VERIFIED = "EmailVerified"
    PASSWORD_RESET_REQUESTED = "PasswordResetRequested"
    PASSWORD_CHANGED = "PasswordChanged"
    EMAIL_CHANGE_REQUESTED = "EmailChangeRequested"
    EMAIL_CHANGED = "EmailChanged"


EMITTED: tuple[UserEvent, ...] = tuple(UserEvent)
