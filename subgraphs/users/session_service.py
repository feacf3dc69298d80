"""A user's sessions (refresh families, sessions.py): listing them and ending one, its access tokens included.

Only the owner sees or ends their sessions; another user's session id answers like an unknown one.
"""

from __future__ import annotations

import time

from shared.auth import Principal
from shared.context import Context
from shared.errors import Forbidden, NotFound
from subgraphs.users.sessions import SeenFrom, SessionRecord
from subgraphs.users.state import InRequest, UsersState


def seen_from(context: Context) -> SeenFrom:
    """Where this request comes from, as a session records it."""
    return SeenFrom.of(context.client_ip, context.connection.headers.get("user-agent"))


async def end_family(state: UsersState, user_id: str, family: str) -> None:
    """End the session `family` and every access token handed out in it, at once."""
    # The family first: a refresh racing with this either rotated before (its access token was recorded before
    # the rotation, so the read below finds it) or finds the family gone and hands out nothing.
    await state.refresh_tokens.revoke_family(user_id, family)
    await revoke_family_access(state, user_id, family)


async def revoke_family_access(state: UsersState, user_id: str, family: str) -> None:
    """Revoke the access tokens handed out with the family's refresh tokens (already revoked)."""
    # Skips tokens expired for longer than any verifier's leeway (seconds): those are refused anyway.
    horizon = time.time() - 60
    for token_id, expires_at in await state.refresh_tokens.family_access_tokens(user_id, family):
        if expires_at > horizon:
            await state.revocations.revoke_token(token_id, expires_at)


class SessionService(InRequest):
    @staticmethod
    def _owner(principal: Principal) -> str:
        if principal.user_id is None:
            raise Forbidden("Only a signed-in user has sessions.")
        return principal.user_id

    async def sessions(self, principal: Principal) -> list[SessionRecord]:
        """The caller's live sessions, last used first."""
        return await self.state.refresh_tokens.sessions(self._owner(principal))

    async def end(self, principal: Principal, session_id: str) -> None:
        user_id = self._owner(principal)
        family = await self.state.refresh_tokens.find_family(user_id, session_id)
        # Someone else's session answers like an unknown one: the id tells nothing.
        if family is None:
            raise NotFound("You have no such session.", field="id")
        await end_family(self.state, user_id, family)
