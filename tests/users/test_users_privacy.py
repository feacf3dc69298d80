"""Privacy in the users subgraph: `deleteMe(password)` deletes the account, ends its sessions, scrubs its
outbox and emits `UserDeleted`; `exportMyData`'s account part, readable by the user alone."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from users_api import LOGIN, ME, PASSWORD, SET_ROLES, Accounts

from myshop.demo.users import DEMO_PASSWORD

DELETE_ME = "mutation DeleteMe($password: String!) { deleteMe(password: $password) }"
ADD = "mutation Add($input: AddressInput!) { addAddress(input: $input) { id } }"
EXPORT = "{ exportMyData { userId generatedAt account } }"
ENTITIES = """
query Export($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on PersonalDataExport { userId account } }
}
"""
HOME = {"name": "Grace Hopper", "line1": "1 Main St", "city": "Springfield", "postalCode": "62701",
        "region": "IL", "country": "US"}  # fmt: skip


def _email() -> str:
    return f"forget-{uuid.uuid4().hex[:10]}@example.com"


async def _outbox(
    sessions: async_sessionmaker[AsyncSession], user_id: str
) -> list[tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT event_type, payload FROM outbox WHERE payload->>'userId' = :id ORDER BY id"),
            {"id": user_id},
        )
        return [(row.event_type, row.payload) for row in rows]


async def test_delete_me_with_the_right_password_forgets_the_account(
    gql: Any, accounts: Accounts, users_sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = _email()
    signed_in = await accounts.register(email, name="Grace Hopper")
    user_id, token = signed_in["user"]["id"], signed_in["accessToken"]
    (await gql("users", ADD, {"input": HOME}, token=token)).ok()

    assert (await gql("users", DELETE_ME, {"password": PASSWORD}, token=token)).ok() == {"deleteMe": True}

    async with users_sessions() as session:
        left = await session.execute(
            text("SELECT (SELECT count(*) FROM users WHERE id = :id), "
                 "(SELECT count(*) FROM addresses WHERE user_id = :id)"),
            {"id": user_id},
        )  # fmt: skip
        assert tuple(left.one()) == (0, 0)
    events = await _outbox(users_sessions, user_id)
    assert [kind for kind, _ in events] == ["UserRegistered", "UserLoggedIn", "UserDeleted"]
    registered, _, deleted = (payload for _, payload in events)
    assert registered["email"] == "" and registered["name"] == ""
    assert set(deleted) == {"userId", "at"}
    assert email not in str(events) and "Grace Hopper" not in str(events)
    assert (await gql("users", ME, token=token)).error_codes == ["UNAUTHENTICATED"]
    login = await gql("users", LOGIN, {"email": email, "password": PASSWORD})
    assert login.error_codes == ["UNAUTHENTICATED"]


async def test_delete_me_with_a_wrong_password_is_refused_and_deletes_nothing(
    gql: Any, accounts: Accounts, users_sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = _email()
    signed_in = await accounts.register(email, name="Kept User")
    token = signed_in["accessToken"]

    refused = await gql("users", DELETE_ME, {"password": "not the password"}, token=token)

    assert refused.error_codes == ["BAD_USER_INPUT"]  # as changePassword and changeEmail answer it
    assert refused.errors[0]["extensions"]["field"] == "password"
    assert (await gql("users", ME, token=token)).ok()["me"]["email"] == email
    assert [kind for kind, _ in await _outbox(users_sessions, signed_in["user"]["id"])] == [
        "UserRegistered",
        "UserLoggedIn",
    ]


async def test_delete_me_without_a_token_is_unauthenticated(gql: Any) -> None:
    assert (await gql("users", DELETE_ME, {"password": PASSWORD})).error_codes == ["UNAUTHENTICATED"]


async def test_wrong_passwords_at_delete_me_are_throttled_like_logins(gql: Any, accounts: Accounts) -> None:
    token = (await accounts.register(_email()))["accessToken"]

    codes = [
        (await gql("users", DELETE_ME, {"password": f"wrong {n}"}, token=token)).error_codes[0]
        for n in range(12)
    ]

    assert "RATE_LIMITED" in codes
    assert (await gql("users", DELETE_ME, {"password": PASSWORD}, token=token)).error_codes == [
        "RATE_LIMITED"
    ]


async def test_the_last_admin_cannot_delete_themself(gql: Any, accounts: Accounts) -> None:
    demo = await accounts.seed_demo()
    admin = demo["admin"]

    refused = await gql("users", DELETE_ME, {"password": DEMO_PASSWORD}, token=admin["accessToken"])

    assert refused.error_codes == ["CONFLICT"]
    assert (await gql("users", ME, token=admin["accessToken"])).ok()["me"]["id"] == admin["user"]["id"]


async def test_an_admin_with_another_admin_may_delete_themself(gql: Any, accounts: Accounts) -> None:
    demo = await accounts.seed_demo()
    admin = demo["admin"]
    other = demo["customer"]["user"]["id"]
    promoted = await gql(
        "users", SET_ROLES, {"userId": other, "roles": ["ADMIN"]}, token=admin["accessToken"]
    )
    promoted.ok()

    deleted = await gql("users", DELETE_ME, {"password": DEMO_PASSWORD}, token=admin["accessToken"])

    assert deleted.ok() == {"deleteMe": True}


async def test_export_my_data_gives_the_account_and_its_addresses(gql: Any, accounts: Accounts) -> None:
    email = _email()
    signed_in = await accounts.register(email, name="Grace Hopper")
    token = signed_in["accessToken"]
    (await gql("users", ADD, {"input": HOME}, token=token)).ok()

    export = (await gql("users", EXPORT, token=token)).ok()["exportMyData"]

    assert export["userId"] == signed_in["user"]["id"]
    account = export["account"]
    assert (account["email"], account["name"], account["roles"]) == (email, "Grace Hopper", ["CUSTOMER"])
    assert [(a["line1"], a["city"]) for a in account["addresses"]] == [("1 Main St", "Springfield")]


async def test_a_representation_of_another_user_is_refused(gql: Any, accounts: Accounts) -> None:
    mine = await accounts.register(_email())
    other = await accounts.register(_email())
    crafted = [{"__typename": "PersonalDataExport", "userId": other["user"]["id"]}]

    refused = await gql("users", ENTITIES, {"representations": crafted}, token=mine["accessToken"])

    assert refused.error_codes == ["FORBIDDEN"]
    assert other["user"]["email"] not in str(refused.body)


async def test_exports_past_ten_an_hour_are_rate_limited(gql: Any, accounts: Accounts) -> None:
    token = (await accounts.register(_email()))["accessToken"]

    codes = [(await gql("users", EXPORT, token=token)).error_codes for _ in range(11)]

    assert codes == [[]] * 10 + [["RATE_LIMITED"]]
