"""Mutation.setUserRoles (ADMIN): the new roles, the sessions it ends, and what it refuses."""

from __future__ import annotations

import asyncio
import uuid

import jwt
from sqlalchemy import text
from users_api import ME, REFRESH, SET_ROLES, Accounts

from shared.auth import TokenIssuer


async def test_set_user_roles_replaces_the_roles(accounts: Accounts, gql) -> None:
    demo = await accounts.seed_demo()
    customer_id = demo["customer"]["user"]["id"]

    resp = await gql(
        "users",
        SET_ROLES,
        {"userId": customer_id, "roles": ["PARTNER", "CUSTOMER", "PARTNER"]},
        token=demo["admin"]["accessToken"],
    )

    assert resp.ok()["setUserRoles"] == {"id": customer_id, "roles": ["CUSTOMER", "PARTNER"]}


async def test_set_user_roles_ends_the_old_tokens_and_the_next_login_carries_the_new_roles(
    accounts: Accounts, gql
) -> None:
    demo = await accounts.seed_demo()
    customer = demo["customer"]
    variables = {"userId": customer["user"]["id"], "roles": ["PARTNER"]}

    (await gql("users", SET_ROLES, variables, token=demo["admin"]["accessToken"])).ok()

    assert (await gql("users", ME, token=customer["accessToken"])).error_codes == ["UNAUTHENTICATED"]
    refreshed = await gql("users", REFRESH, {"token": customer["refreshToken"]})
    assert refreshed.error_codes == ["UNAUTHENTICATED"]
    again = await accounts.login("customer@myshop.dev", "myshop-demo")
    assert again["user"]["roles"] == ["PARTNER"]
    assert jwt.decode(again["accessToken"], options={"verify_signature": False})["roles"] == ["PARTNER"]
    assert (await gql("users", ME, token=again["accessToken"])).ok()["me"]["roles"] == ["PARTNER"]


async def test_set_user_roles_signs_out_every_session_of_that_user_and_no_other_user(
    accounts: Accounts, gql
) -> None:
    demo = await accounts.seed_demo()
    customer = demo["customer"]
    # The customer is signed in on a second device too.
    second_device = await accounts.login("customer@myshop.dev", "myshop-demo")
    variables = {"userId": customer["user"]["id"], "roles": ["PARTNER"]}

    (await gql("users", SET_ROLES, variables, token=demo["admin"]["accessToken"])).ok()

    # The customer's access tokens are revoked and their sessions (refresh token families) ended, everywhere.
    for session in (customer, second_device):
        me = await gql("users", ME, token=session["accessToken"])
        assert me.error_codes == ["UNAUTHENTICATED"]
        assert me.errors[0]["extensions"]["reason"] == "revoked"
        refreshed = await gql("users", REFRESH, {"token": session["refreshToken"]})
        assert refreshed.error_codes == ["UNAUTHENTICATED"]
        assert refreshed.errors[0]["extensions"]["reason"] == "invalid"
    # The other users stay signed in: their access tokens work and their sessions still refresh.
    for other in (demo["partner"], demo["admin"]):
        (await gql("users", ME, token=other["accessToken"])).ok()
        (await gql("users", REFRESH, {"token": other["refreshToken"]})).ok()


async def test_a_customer_cannot_set_roles(accounts: Accounts, gql) -> None:
    demo = await accounts.seed_demo()
    customer = demo["customer"]

    resp = await gql(
        "users",
        SET_ROLES,
        {"userId": customer["user"]["id"], "roles": ["ADMIN"]},
        token=customer["accessToken"],
    )

    assert resp.status_code == 200
    assert resp.error_codes == ["FORBIDDEN"]
    assert (await gql("users", ME, token=customer["accessToken"])).ok()["me"]["roles"] == ["CUSTOMER"]


async def test_set_user_roles_without_a_token_is_unauthenticated(gql) -> None:
    resp = await gql("users", SET_ROLES, {"userId": str(uuid.uuid4()), "roles": ["ADMIN"]})

    assert resp.error_codes == ["UNAUTHENTICATED"]


async def test_an_empty_role_list_is_bad_user_input(accounts: Accounts, gql) -> None:
    demo = await accounts.seed_demo()

    resp = await gql(
        "users",
        SET_ROLES,
        {"userId": demo["customer"]["user"]["id"], "roles": []},
        token=demo["admin"]["accessToken"],
    )

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "roles"


async def test_the_service_role_cannot_be_given_to_a_user(gql, issuer: TokenIssuer) -> None:
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token

    resp = await gql("users", SET_ROLES, {"userId": str(uuid.uuid4()), "roles": ["SERVICE"]}, token=admin)

    assert resp.status_code == 200
    assert resp.error_codes == ["BAD_USER_INPUT"]


async def test_removing_the_last_admin_is_a_conflict(accounts: Accounts, gql) -> None:
    demo = await accounts.seed_demo()
    admin = demo["admin"]

    resp = await gql(
        "users", SET_ROLES, {"userId": admin["user"]["id"], "roles": ["CUSTOMER"]}, token=admin["accessToken"]
    )

    assert resp.error_codes == ["CONFLICT"]
    assert (await gql("users", ME, token=admin["accessToken"])).ok()["me"]["roles"] == ["ADMIN"]


async def test_an_admin_can_step_down_once_there_is_another_admin(accounts: Accounts, gql) -> None:
    demo = await accounts.seed_demo()
    admin = demo["admin"]
    promote = {"userId": demo["partner"]["user"]["id"], "roles": ["ADMIN", "PARTNER"]}
    (await gql("users", SET_ROLES, promote, token=admin["accessToken"])).ok()

    step_down = {"userId": admin["user"]["id"], "roles": ["CUSTOMER"]}
    resp = await gql("users", SET_ROLES, step_down, token=admin["accessToken"])

    assert resp.ok()["setUserRoles"]["roles"] == ["CUSTOMER"]


async def test_setting_roles_of_an_unknown_user_is_not_found_and_of_a_malformed_id_bad_input(
    accounts: Accounts, gql
) -> None:
    demo = await accounts.seed_demo()
    token = demo["admin"]["accessToken"]

    unknown = await gql("users", SET_ROLES, {"userId": str(uuid.uuid4()), "roles": ["ADMIN"]}, token=token)
    not_an_id = await gql("users", SET_ROLES, {"userId": "42", "roles": ["ADMIN"]}, token=token)

    assert unknown.error_codes == ["NOT_FOUND"]
    assert not_an_id.error_codes == ["BAD_USER_INPUT"]
    assert not_an_id.errors[0]["extensions"]["field"] == "userId"


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    accounts: Accounts, gql, users_sessions
) -> None:
    demo = await accounts.seed_demo()
    admin, partner = demo["admin"], demo["partner"]
    promote = {"userId": partner["user"]["id"], "roles": ["ADMIN"]}
    (await gql("users", SET_ROLES, promote, token=admin["accessToken"])).ok()
    partner = await accounts.login("partner@myshop.dev", "myshop-demo")

    responses = await asyncio.gather(
        gql(
            "users",
            SET_ROLES,
            {"userId": partner["user"]["id"], "roles": ["PARTNER"]},
            token=admin["accessToken"],
        ),
        gql(
            "users",
            SET_ROLES,
            {"userId": admin["user"]["id"], "roles": ["CUSTOMER"]},
            token=partner["accessToken"],
        ),
    )

    assert sum(1 for resp in responses if not resp.errors) == 1
    # The loser either lost its admin token or met the last-admin rule: never an INTERNAL deadlock.
    assert {code for resp in responses for code in resp.error_codes} <= {"CONFLICT", "UNAUTHENTICATED"}
    async with users_sessions() as session:
        admins = await session.scalar(text("SELECT count(*) FROM users WHERE 'ADMIN' = ANY(roles)"))
    assert admins == 1
