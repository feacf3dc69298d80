"""The domain events the users service emits (ARCHITECTURE.md, "Events").

Each is written to the users outbox (`models.outbox`) in the transaction of the change it reports; the relay
puts it on the stream `<redis_prefix>events:users`. Where each is written:

- `UserRegistered` by `UserService.register`, right after the new account is flushed
  (payload: userId, email, name, at) — consumed by notifications (welcome email) and analytics.
- `UserLoggedIn` by `UserService.login`, after a successful password check
  (payload: userId, at) — consumed by analytics (userActivity).
- `UserDeleted` by `privacy.Privacy.delete_me`, with the account's deletion (payload: userId, at; no email or
  name) — consumed by every service holding data of the user, to forget it (`shared.privacy`).

A refresh is not a login: it emits nothing. The demo seed writes accounts directly and emits nothing either.
"""

from __future__ import annotations

import enum


class UserEvent(enum.StrEnum):
    USER_REGISTERED = "UserRegistered"
    USER_LOGGED_IN = "UserLoggedIn"
    USER_DELETED = "UserDeleted"


EMITTED: tuple[UserEvent, ...] = tuple(UserEvent)
