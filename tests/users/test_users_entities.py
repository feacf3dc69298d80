"""`User` as a federation entity: `_entities`, the batching loader, field visibility, and the SDL contract."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import event, pool
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from users_api import Accounts

from shared.auth import TokenIssuer
from subgraphs.users import repository
from subgraphs.users.app import definition
from subgraphs.users.loaders import UserLoaders

ENTITIES = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { id name createdAt } }
}
"""
ROLES_ONLY = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { roles } }
}
"""
PRIVATE_FIELDS = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { id email roles } }
}
"""
EMAIL_ONLY = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { email } }
}
"""


def references(*ids: str) -> dict:
    return {"representations": [{"__typename": "User", "id": user_id} for user_id in ids]}


async def test_entities_resolves_several_users_in_order_with_public_fields(accounts: Accounts, gql) -> None:
    ann = (await accounts.register("ann@example.com", name="Ann"))["user"]
    bob = (await accounts.register("bob@example.com", name="Bob"))["user"]
    unknown = str(uuid.uuid4())

    # Anonymous: id, name and createdAt are public.
    entities = (await gql("users", ENTITIES, references(bob["id"], unknown, ann["id"], "not-an-id"))).ok()

    assert entities["_entities"] == [
        {"id": bob["id"], "name": "Bob", "createdAt": bob["createdAt"]},
        None,
        {"id": ann["id"], "name": "Ann", "createdAt": ann["createdAt"]},
        None,
    ]


async def test_the_user_loader_reads_every_reference_with_one_query(databases: dict[str, str]) -> None:
    engine = create_async_engine(databases["users"], poolclass=pool.NullPool)
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    try:
        async with AsyncSession(engine) as session, session.begin():
            users = [
                await repository.add(
                    session,
                    email=f"batch{n}@example.com",
                    name=f"B{n}",
                    password_hash="x",
                    roles=["CUSTOMER"],
                )
                for n in range(3)
            ]
            event.listen(engine.sync_engine, "after_cursor_execute", count)
            loaders = UserLoaders(lambda: session)
            wanted = [users[2].id, uuid.uuid4(), users[0].id, users[1].id, users[0].id]

            loaded = await asyncio.gather(*(loaders.user_by_id.load(user_id) for user_id in wanted))

            await session.rollback()
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", count)
        await engine.dispose()

    assert [user.email if user else None for user in loaded] == [
        "batch2@example.com",
        None,
        "batch0@example.com",
        "batch1@example.com",
        "batch0@example.com",
    ]
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")


async def test_entities_hide_email_and_roles_from_another_customer(accounts: Accounts, gql) -> None:
    ann = (await accounts.register("private.ann@example.com"))["user"]
    bob = await accounts.register("private.bob@example.com")

    email = await gql("users", EMAIL_ONLY, references(ann["id"]), token=bob["accessToken"])
    roles = await gql("users", ROLES_ONLY, references(ann["id"]), token=bob["accessToken"])
    public = await gql("users", ENTITIES, references(ann["id"]), token=bob["accessToken"])

    assert email.status_code == roles.status_code == 200
    assert email.error_codes == roles.error_codes == ["FORBIDDEN"]
    assert [email.errors[0]["path"], roles.errors[0]["path"]] == [
        ["_entities", 0, "email"],
        ["_entities", 0, "roles"],
    ]
    assert public.ok()["_entities"][0]["id"] == ann["id"]


async def test_entities_hide_email_from_anonymous_callers(accounts: Accounts, gql) -> None:
    ann = (await accounts.register("anon.ann@example.com"))["user"]

    resp = await gql("users", EMAIL_ONLY, references(ann["id"]))

    assert resp.error_codes == ["UNAUTHENTICATED"]


async def test_entities_show_email_and_roles_to_the_user_themself(accounts: Accounts, gql) -> None:
    ann = await accounts.register("own.ann@example.com")

    resp = await gql("users", PRIVATE_FIELDS, references(ann["user"]["id"]), token=ann["accessToken"])

    assert resp.ok()["_entities"] == [
        {"id": ann["user"]["id"], "email": "own.ann@example.com", "roles": ["CUSTOMER"]}
    ]


async def test_entities_show_email_and_roles_to_admins_and_services(
    accounts: Accounts, gql, issuer: TokenIssuer
) -> None:
    ann = (await accounts.register("staff.ann@example.com"))["user"]
    tokens = [issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token, issuer.issue_service_token("orders").token]

    for token in tokens:
        resp = await gql("users", PRIVATE_FIELDS, references(ann["id"]), token=token)
        assert resp.ok()["_entities"][0]["email"] == "staff.ann@example.com"


async def test_entities_show_partners_the_email_but_not_the_roles(
    accounts: Accounts, gql, issuer: TokenIssuer
) -> None:
    ann = (await accounts.register("shipped.ann@example.com"))["user"]
    partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token

    email = await gql("users", EMAIL_ONLY, references(ann["id"]), token=partner)
    roles = await gql("users", ROLES_ONLY, references(ann["id"]), token=partner)

    assert email.ok()["_entities"] == [{"email": "shipped.ann@example.com"}]
    assert roles.error_codes == ["FORBIDDEN"]
    assert roles.errors[0]["path"][-1] == "roles"


def test_the_sdl_keeps_the_contracted_user_type_and_operations() -> None:
    sdl = definition.schema.as_str()

    assert 'type User @key(fields: "id")' in sdl
    for field in ("id: ID!", "email: String!", "name: String!", "roles: [Role!]!", "createdAt: DateTime!"):
        assert f"  {field}\n" in sdl
    role_enum = sdl[sdl.index("enum Role {") :].split("}")[0]
    assert role_enum.split()[3:] == ["CUSTOMER", "ADMIN", "PARTNER"]
    for operation in (
        "me: User",
        "user(id: ID!): User",
        "users(first: Int = null, after: String = null): UserConnection!",
        "register(input: RegisterInput!): RegisterPayload!",
        "login(email: String!, password: String!): AuthPayload!",
        "refreshToken(refreshToken: String!): AuthPayload!",
        "logout(refreshToken: String = null, allSessions: Boolean! = false): Boolean!",
        "setUserRoles(userId: ID!, roles: [Role!]!): User!",
    ):
        assert operation in sdl
    for field in ("accessToken: String!", "refreshToken: String!", "expiresAt: DateTime!", "user: User!"):
        assert field in sdl[sdl.index("type AuthPayload") :].split("}")[0]
