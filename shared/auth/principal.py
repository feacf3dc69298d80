"""Who is calling: the claims of a verified access token."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    CUSTOMER = "CUSTOMER"
    ADMIN = "ADMIN"
    PARTNER = "PARTNER"
    # Services call each other with SERVICE tokens; no user can be given this role.
    SERVICE = "SERVICE"


USER_ROLES = frozenset({Role.CUSTOMER, Role.ADMIN, Role.PARTNER})


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    roles: frozenset[str]
    token_id: str
    issued_at: float
    expires_at: float
    # The users session (refresh family) the token was issued in, opaque (`sid`); None for service tokens.
    session_id: str | None = None
    # The token's `email_verified` claim: the user proved they read mail at their address. False when the
    # claim is missing (a token from before the claim existed); meaningless for a service token.
    email_verified: bool = False
    # The words of the token's `scope` claim (OAuth 2.0's space-separated scopes); empty without one.
    scopes: frozenset[str] = frozenset()

    @property
    def is_service(self) -> bool:
        return Role.SERVICE in self.roles

    @property
    def user_id(self) -> str | None:
        """The user behind the token; None for a service token."""
        return None if self.is_service else self.subject

    @property
    def grants(self) -> frozenset[str]:
        """What `@requiresScopes` checks: each role is the scope of its name, and the `scope` claim's
        words."""
        return self.roles | self.scopes

    def has_any_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    def is_user(self, user_id: object) -> bool:
        return self.user_id is not None and self.user_id == str(user_id)
