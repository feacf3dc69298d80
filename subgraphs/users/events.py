"""The domain events the users service emits (ARCHITECTURE.md, "Events").

Publishing comes with the outbox: each event is then written as an outbox row in the transaction of the change
it reports, and the relay puts it on Redis Streams. Where each is written:

- `UserRegistered` by `UserService.register`, right after the new account is flushed
  (payload: userId, email, name, occurredAt) — consumed by notifications (welcome email) and analytics.
- `UserLoggedIn` by `UserService.login`, after a successful password check
  (payload: userId, occurredAt) — consumed by analytics (userActivity).

A refresh is not a login: it emits nothing.
"""

from __future__ import annotations

from typing import Final

USER_REGISTERED: Final = "UserRegistered"
USER_LOGGED_IN: Final = "UserLoggedIn"

EMITTED: Final = (USER_REGISTERED, USER_LOGGED_IN)
