"""The users subgraph's entity and account types (`User`, `Role`, `AuthPayload`) and who may read which
field of a `User`: shared by schema.py's Query and Mutation and by the mixins (account_schema.py, ...)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.permission import BasePermission
from strawberry.types import Info

from shared.auth import Role as TokenRole
from shared.errors import Forbidden, Unauthenticated
from shared.ids import uuid_or_none
from subgraphs.users import models
from subgraphs.users.address_schema import Address, addresses_of
from subgraphs.users.addresses import MAX_ADDRESSES_PER_USER
from subgraphs.users.service import SignedIn


@strawberry.enum(description="What a user may do. Services call with SERVICE tokens; no user holds SERVICE.")
class Role(enum.Enum):
    CUSTOMER = "CUSTOMER"
    ADMIN = "ADMIN"
    PARTNER = "PARTNER"


class _ReadableBy(BasePermission):
    """A private field of a `User`: the user themself, or a caller with one of `roles`."""

    roles: frozenset[str] = frozenset()

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if source.signed_in_as:
            return True
        principal = await info.context.principal()
        if principal is None:
            raise Unauthenticated("Sign in to read this field.")
        if principal.is_user(source.id) or principal.has_any_role(*self.roles):
            return True
        raise Forbidden("Only the user themself or staff can read this field.")


class CanReadEmail(_ReadableBy):
    # Partners fulfil orders: they need to reach the customer.
    roles = frozenset({TokenRole.ADMIN, TokenRole.SERVICE, TokenRole.PARTNER})


class CanReadRoles(_ReadableBy):
    roles = frozenset({TokenRole.ADMIN, TokenRole.SERVICE})


class CanReadVerification(_ReadableBy):
    roles = frozenset({TokenRole.ADMIN, TokenRole.SERVICE})


class CanReadAddresses(_ReadableBy):
    # Staff help with deliveries; services (a later checkout) read the address to freeze on an order.
    roles = frozenset({TokenRole.ADMIN, TokenRole.SERVICE})


@strawberry.federation.type(keys=["id"], description="A MyShop account.")
class User:
    id: strawberry.ID
    name: str
    created_at: datetime
    email_address: strawberry.Private[str]
    role_names: strawberry.Private[list[str]]
    email_verified_at: strawberry.Private[datetime | None]
    # Built for the caller who just proved to be this user (register, login, refresh): no token needed.
    signed_in_as: strawberry.Private[bool] = False

    @strawberry.field(permission_classes=[CanReadEmail], description="Self, ADMIN, PARTNER or SERVICE only.")
    def email(self) -> str:
        return self.email_address

    @strawberry.field(
        permission_classes=[CanReadVerification],
        description="Whether the owner confirmed the address (verifyEmail). Self, ADMIN or SERVICE only.",
    )
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @strawberry.field(permission_classes=[CanReadRoles], description="Self, ADMIN or SERVICE only.")
    def roles(self) -> list[Role]:
        return [Role(name) for name in self.role_names]

    @strawberry.field(
        permission_classes=[CanReadAddresses],
        description="The address book, oldest first. Self, ADMIN or SERVICE only.",
        # Demand control: the address book's cap.
        directives=[ListSize(assumed_size=MAX_ADDRESSES_PER_USER)],
    )
    async def addresses(self, info: Info) -> list[Address]:
        return await addresses_of(info, self.id)

    @classmethod
    def from_model(cls, user: models.User, *, signed_in_as: bool = False) -> User:
        return cls(
            id=strawberry.ID(str(user.id)),
            name=user.name,
            created_at=user.created_at,
            email_address=user.email,
            role_names=list(user.roles),
            email_verified_at=user.email_verified_at,
            signed_in_as=signed_in_as,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> User | None:
        user_id = uuid_or_none(id)
        user = await info.context.loaders.user_by_id.load(user_id) if user_id is not None else None
        return cls.from_model(user) if user is not None else None


def optional_user(user: models.User | None) -> User | None:
    return User.from_model(user) if user is not None else None


@strawberry.type(description="A signed-in session: a short-lived access token and the refresh token.")
class AuthPayload:
    access_token: str = strawberry.field(description="JWT for `Authorization: Bearer <token>`.")
    refresh_token: str = strawberry.field(
        description="Opaque; single use: each refresh returns the next one."
    )
    expires_at: datetime = strawberry.field(description="When the access token expires.")
    user: User

    @classmethod
    def from_signed_in(cls, signed_in: SignedIn) -> AuthPayload:
        return cls(
            access_token=signed_in.access.token,
            refresh_token=signed_in.refresh_token,
            expires_at=signed_in.access.expires_at,
            user=User.from_model(signed_in.user, signed_in_as=True),
        )
