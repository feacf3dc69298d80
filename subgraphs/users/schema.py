"""The users subgraph's GraphQL schema: thin resolvers over `UserService`."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.federation.schema_directives import Cost, ListSize
from strawberry.permission import BasePermission
from strawberry.types import Info

from shared.auth import Role as TokenRole
from shared.auth.permissions import IsAdmin, IsAuthenticated
from shared.errors import Forbidden, Unauthenticated
from shared.graphql import build_schema
from shared.ids import uuid_or_none
from shared.pagination import Connection, connection
from subgraphs.users import models
from subgraphs.users.account_schema import AccountMutation, RegisterPayload
from subgraphs.users.address_schema import Address, AddressMutation, addresses_of
from subgraphs.users.addresses import MAX_ADDRESSES_PER_USER
from subgraphs.users.privacy_schema import PersonalDataExport, PrivacyMutation, PrivacyQuery
from subgraphs.users.service import SignedIn, UserService, user_cursor
from subgraphs.users.session_schema import SessionMutation, SessionQuery


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


def _optional(user: models.User | None) -> User | None:
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


@strawberry.input
class RegisterInput:
    email: str
    password: str = strawberry.field(description="8 to 128 characters.")
    name: str


@strawberry.type
class Query(SessionQuery, PrivacyQuery):
    @strawberry.field(permission_classes=[IsAuthenticated], description="The signed-in user.")
    async def me(self, info: Info) -> User | None:
        principal = await info.context.require_principal()
        return _optional(await UserService(info.context).me(principal))

    @strawberry.field(
        permission_classes=[IsAuthenticated], description="A user: yourself, or anyone for ADMIN."
    )
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        principal = await info.context.require_principal()
        return _optional(await UserService(info.context).get_user(principal, id))

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Every user, oldest first (ADMIN).",
        # Demand control: `first` sizes the page; without it the service's default page of 20.
        directives=[
            ListSize(
                slicing_arguments=["first"],
                assumed_size=20,
                sized_fields=["edges", "nodes"],
                require_one_slicing_argument=False,
            )
        ],
    )
    async def users(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[User]:
        page = await UserService(info.context).list_users(first=first, after=after)
        return connection(
            [User.from_model(user) for user in page.users],
            size=page.size,
            cursor_of=lambda node: user_cursor(node.created_at, node.id),
            has_previous=page.has_previous,
            total_count=page.total_count,
        )


@strawberry.type
class Mutation(AddressMutation, AccountMutation, SessionMutation, PrivacyMutation):
    # Demand control: a password hash (argon2, memory-hard) costs like reading a hundred objects.
    @strawberry.mutation(
        description="Create a CUSTOMER account with an unconfirmed address and mail it a code; signs nobody "
        "in (`login` does). The answer is the same whether or not the address already has an account.",
        directives=[Cost(weight=100)],
    )
    async def register(self, info: Info, input: RegisterInput) -> RegisterPayload:
        service = UserService(info.context)
        registered = await service.register(email=input.email, password=input.password, name=input.name)
        return RegisterPayload.for_email(registered.email)

    @strawberry.mutation(directives=[Cost(weight=100)])
    async def login(self, info: Info, email: str, password: str) -> AuthPayload:
        return AuthPayload.from_signed_in(
            await UserService(info.context).login(email=email, password=password)
        )

    @strawberry.mutation(description="Trade a refresh token for new tokens; the one given stops working.")
    async def refresh_token(self, info: Info, refresh_token: str) -> AuthPayload:
        return AuthPayload.from_signed_in(await UserService(info.context).refresh(refresh_token))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="End this access token and the session of `refreshToken` (or, with allSessions, all).",
    )
    async def logout(self, info: Info, refresh_token: str | None = None, all_sessions: bool = False) -> bool:
        principal = await info.context.require_principal()
        await UserService(info.context).logout(
            principal, refresh_token=refresh_token, all_sessions=all_sessions
        )
        return True

    @strawberry.mutation(permission_classes=[IsAdmin], description="Replace a user's roles; signs them out.")
    async def set_user_roles(self, info: Info, user_id: strawberry.ID, roles: list[Role]) -> User:
        user = await UserService(info.context).set_roles(user_id, [role.value for role in roles])
        return User.from_model(user)


schema = build_schema(query=Query, mutation=Mutation, types=[User, PersonalDataExport])
