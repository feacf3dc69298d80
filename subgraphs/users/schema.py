"""The users subgraph's GraphQL schema: thin resolvers over `UserService`."""

from __future__ import annotations

import strawberry
from strawberry.federation.schema_directives import Cost, ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, IsAuthenticated, guarded
from shared.graphql import build_schema
from shared.pagination import Connection, connection
from subgraphs.users.account_schema import AccountMutation, RegisterPayload
from subgraphs.users.address_schema import AddressMutation
from subgraphs.users.privacy_schema import PersonalDataExport, PrivacyMutation, PrivacyQuery
from subgraphs.users.service import UserService, user_cursor
from subgraphs.users.session_schema import SessionMutation, SessionQuery
from subgraphs.users.user_types import AuthPayload, Role, User, optional_user


@strawberry.input
class RegisterInput:
    email: str
    password: str = strawberry.field(description="8 to 128 characters.")
    name: str


@strawberry.type
class Query(SessionQuery, PrivacyQuery):
    @strawberry.field(**guarded(IsAuthenticated), description="The signed-in user.")
    async def me(self, info: Info) -> User | None:
        principal = await info.context.require_principal()
        return optional_user(await UserService(info.context).me(principal))

    @strawberry.field(**guarded(IsAuthenticated), description="A user: yourself, or anyone for ADMIN.")
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        principal = await info.context.require_principal()
        return optional_user(await UserService(info.context).get_user(principal, id))

    @strawberry.field(
        **guarded(
            IsAdmin,
            # Demand control: `first` sizes the page; without it the service's default page of 20.
            ListSize(
                slicing_arguments=["first"],
                assumed_size=20,
                sized_fields=["edges", "nodes"],
                require_one_slicing_argument=False,
            ),
        ),
        description="Every user, oldest first (ADMIN).",
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
        **guarded(IsAuthenticated),
        description="End this access token and the session of `refreshToken` (or, with allSessions, all).",
    )
    async def logout(self, info: Info, refresh_token: str | None = None, all_sessions: bool = False) -> bool:
        principal = await info.context.require_principal()
        await UserService(info.context).logout(
            principal, refresh_token=refresh_token, all_sessions=all_sessions
        )
        return True

    @strawberry.mutation(**guarded(IsAdmin), description="Replace a user's roles; signs them out.")
    async def set_user_roles(self, info: Info, user_id: strawberry.ID, roles: list[Role]) -> User:
        user = await UserService(info.context).set_roles(user_id, [role.value for role in roles])
        return User.from_model(user)


schema = build_schema(query=Query, mutation=Mutation, types=[User, PersonalDataExport])
