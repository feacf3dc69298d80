"""Strawberry permission classes driven by the caller's token claims.

A missing or bad token answers UNAUTHENTICATED; a valid token without the role answers FORBIDDEN.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from shared.auth.principal import Role
from shared.errors import Forbidden


class IsAuthenticated(BasePermission):
    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        await info.context.require_principal()
        return True


@cache
def has_role(*roles: str) -> type[BasePermission]:
    """A permission class admitting callers with any of `roles` (one class per role set, cached)."""
    wanted = frozenset(roles)
    names = " or ".join(sorted(wanted))

    class HasRole(BasePermission):
        async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            principal = await info.context.require_principal()
            if principal.roles.isdisjoint(wanted):
                raise Forbidden(f"This needs the {names} role.")
            return True

    HasRole.__name__ = HasRole.__qualname__ = "Has" + "Or".join(r.title() for r in sorted(wanted)) + "Role"
    return HasRole


IsAdmin = has_role(Role.ADMIN)
IsService = has_role(Role.SERVICE)
IsAdminOrPartner = has_role(Role.ADMIN, Role.PARTNER)
