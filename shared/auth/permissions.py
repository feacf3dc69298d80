"""Strawberry permission classes driven by the caller's token claims.

A missing or bad token answers UNAUTHENTICATED; a valid token without the role answers FORBIDDEN. `guarded()`
gives a field both its permission class and the matching authorization directive (`@authenticated`,
`@requiresScopes`), so the router refuses the field at the edge too and never asks the subgraph for it.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from strawberry.federation.schema_directives import Authenticated, RequiresScopes
from strawberry.permission import BasePermission
from strawberry.types import Info

from shared.auth.principal import Role
from shared.errors import Forbidden


class IsAuthenticated(BasePermission):
    # The directive the router enforces for this class (guarded()).
    schema_directive: ClassVar[object] = Authenticated()

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        await info.context.require_principal()
        return True


@cache
def has_role(*roles: str) -> type[BasePermission]:
    """A permission class admitting callers with any of `roles` (one class per role set, cached)."""
    wanted = frozenset(roles)
    names = " or ".join(sorted(wanted))

    class HasRole(BasePermission):
        # Each role is a scope at the router: any one of them (OR).
        schema_directive: ClassVar[object] = RequiresScopes(scopes=[[role] for role in sorted(wanted)])

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


def guarded(permission: type[BasePermission], *directives: object) -> dict[str, Any]:
    """A field's keyword arguments for `permission` (`@strawberry.field(**guarded(IsAdmin), ...)`): the
    permission class, checked here, and its directive (its `schema_directive`), checked by the router
    first; `directives`: the field's other schema directives."""
    own = getattr(permission, "schema_directive", None)
    return {"permission_classes": [permission], "directives": [*directives, *([own] if own else [])]}
