"""Query.me, Query.user (self or ADMIN) and Query.users (ADMIN, keyset cursor pagination)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from users_api import ME, Accounts

from shared.auth import TokenIssuer
from shared.pagination import encode_cursor
from subgraphs.users import repository

USER = "query One($id: ID!) { user(id: $id) { id email name roles createdAt } }"
USERS = """
query List($first: Int, $after: String) {
  users(first: $first, after: $after) {
    totalCount
    edges { cursor node { id email } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


@pytest.fixture
def admin_token(issuer: TokenIssuer) -> str:
    return issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token


async def insert_users(users_sessions, count: int, *, same_instant: bool = False) -> list[str]:
    """`count` users straight in the database (no hashing: they never sign in), oldest first."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    async with users_sessions.begin() as session:
        for n in range(count):
            user = await repository.add(
                session,
                email=f"listed{n:03}@example.com",
                name=f"Listed {n}",
                password_hash="x",
                roles=["CUSTOMER"],
            )
            user.created_at = start if same_instant else start + timedelta(seconds=n)
            ids.append(user.id)
    return [str(user_id) for user_id in ids]


async def test_me_returns_the_signed_in_user(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("me@example.com", name="Me Myself")

    me = (await gql("users", ME, token=signed_in["accessToken"])).ok()["me"]

    assert me == {
        "id": signed_in["user"]["id"],
        "email": "me@example.com",
        "name": "Me Myself",
        "roles": ["CUSTOMER"],
    }


async def test_me_with_a_service_token_is_null(gql, issuer: TokenIssuer) -> None:
    token = issuer.issue_service_token("orders").token

    assert (await gql("users", ME, token=token)).ok() == {"me": None}


async def test_a_user_can_read_their_own_account(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("self@example.com")

    resp = await gql("users", USER, {"id": signed_in["user"]["id"]}, token=signed_in["accessToken"])

    assert resp.ok()["user"]["email"] == "self@example.com"


async def test_an_admin_can_read_any_user(accounts: Accounts, gql, admin_token: str) -> None:
    signed_in = await accounts.register("read.by.admin@example.com")

    resp = await gql("users", USER, {"id": signed_in["user"]["id"]}, token=admin_token)

    assert resp.ok()["user"]["roles"] == ["CUSTOMER"]


async def test_an_admin_reading_an_unknown_user_gets_null(gql, admin_token: str) -> None:
    unknown = await gql("users", USER, {"id": str(uuid.uuid4())}, token=admin_token)
    not_an_id = await gql("users", USER, {"id": "not-a-uuid"}, token=admin_token)

    assert unknown.ok() == {"user": None}
    assert not_an_id.ok() == {"user": None}


async def test_a_customer_reading_another_user_is_forbidden_whether_or_not_it_exists(
    accounts: Accounts, gql
) -> None:
    other = await accounts.register("other.customer@example.com")
    nosy = await accounts.register("nosy@example.com")

    existing = await gql("users", USER, {"id": other["user"]["id"]}, token=nosy["accessToken"])
    missing = await gql("users", USER, {"id": str(uuid.uuid4())}, token=nosy["accessToken"])

    assert existing.status_code == missing.status_code == 200
    assert existing.error_codes == missing.error_codes == ["FORBIDDEN"]
    assert existing.data == missing.data == {"user": None}


async def test_reading_a_user_anonymously_is_unauthenticated(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("anon.read@example.com")

    assert (await gql("users", USER, {"id": signed_in["user"]["id"]})).error_codes == ["UNAUTHENTICATED"]


async def list_users(gql, token: str, **variables) -> dict:
    return (await gql("users", USERS, variables, token=token)).ok()["users"]


async def test_users_lists_every_user_oldest_first_in_pages(gql, admin_token: str, users_sessions) -> None:
    ids = await insert_users(users_sessions, 5)

    first = await list_users(gql, admin_token, first=2)
    second = await list_users(gql, admin_token, first=2, after=first["pageInfo"]["endCursor"])
    third = await list_users(gql, admin_token, first=2, after=second["pageInfo"]["endCursor"])

    pages = [[edge["node"]["id"] for edge in page["edges"]] for page in (first, second, third)]
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]
    assert [page["totalCount"] for page in (first, second, third)] == [5, 5, 5]
    assert [page["pageInfo"]["hasNextPage"] for page in (first, second, third)] == [True, True, False]
    assert [page["pageInfo"]["hasPreviousPage"] for page in (first, second, third)] == [False, True, True]
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]


async def test_users_created_at_the_same_instant_page_by_id_without_gaps(
    gql, admin_token: str, users_sessions
) -> None:
    ids = await insert_users(users_sessions, 5, same_instant=True)

    seen: list[str] = []
    after = None
    while True:
        page = await list_users(gql, admin_token, first=2, after=after)
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == sorted(ids, key=uuid.UUID)


async def test_users_pages_hold_20_users_by_default(gql, admin_token: str, users_sessions) -> None:
    await insert_users(users_sessions, 21)

    page = await list_users(gql, admin_token)

    assert len(page["edges"]) == 20
    assert page["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize("first", [0, -1, 101, 100000])
async def test_users_refuses_a_page_size_outside_1_to_100(gql, admin_token: str, first: int) -> None:
    resp = await gql("users", USERS, {"first": first}, token=admin_token)

    assert resp.status_code == 200
    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "first"


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        encode_cursor("products", ["2026-01-01T00:00:00+00:00", str(uuid.uuid4())]),
        encode_cursor("users", ["not a time", str(uuid.uuid4())]),
        encode_cursor("users", ["2026-01-01T00:00:00+00:00", "not an id"]),
        encode_cursor("users", ["2026-01-01T00:00:00+00:00"]),
        encode_cursor("users", [1, 2]),
    ],
)
async def test_users_refuses_an_invalid_cursor(gql, admin_token: str, cursor: str) -> None:
    resp = await gql("users", USERS, {"first": 2, "after": cursor}, token=admin_token)

    assert resp.status_code == 200
    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "after"


async def test_users_is_forbidden_to_customers_and_partners(gql, issuer: TokenIssuer) -> None:
    for role in ("CUSTOMER", "PARTNER"):
        token = issuer.issue(str(uuid.uuid4()), [role]).token
        assert (await gql("users", USERS, token=token)).error_codes == ["FORBIDDEN"]


async def test_sibling_fields_checking_the_caller_at_once_all_see_the_token(accounts: Accounts, gql) -> None:
    # Both root fields and both private fields ask for the caller concurrently within one request.
    signed_in = await accounts.register("siblings@example.com")
    query = "query Both($id: ID!) { me { email roles } user(id: $id) { email roles } }"

    data = (await gql("users", query, {"id": signed_in["user"]["id"]}, token=signed_in["accessToken"])).ok()

    assert data["me"] == data["user"] == {"email": "siblings@example.com", "roles": ["CUSTOMER"]}
