"""Email canonicalisation (issue 14 item 7): look-alike characters and mixed scripts refused on the input
alone, an address whose UTS #39 skeleton collides with an account's answered like that account's address,
login NFKC-folded, and the migration that gives existing rows their skeleton.

Look-alike characters are written as escapes: the source stays readable and ruff's ambiguity checks hold.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import pool, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from users_api import LOGIN, PASSWORD, REGISTER, Accounts

from myshop import migrations
from shared.errors import BadUserInput
from subgraphs import registry
from subgraphs.users import emails, repository

FULL_WIDTH_A = "\uff41"  # FULLWIDTH LATIN SMALL LETTER A
CYRILLIC_A = "\u0430"  # CYRILLIC SMALL LETTER A


def register_variables(email: str, password: str = PASSWORD) -> dict:
    return {"input": {"email": email, "password": password, "name": "Look Alike"}}


def refused_field(resp) -> tuple[list, str | None]:
    return resp.error_codes, resp.errors[0]["extensions"].get("field") if resp.errors else None


# --- the rules, as pure functions ---


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("admin@myshop.dev", "adrnin@myshop.dev"),  # m -> rn
        ("paypal@example.com", "paypa1@example.com"),  # digit one -> l
        ("admin@myshop.dev", f"{CYRILLIC_A}dmin@myshop.dev"),
        ("admin@myshop.dev", f"{FULL_WIDTH_A}dmin@myshop.dev"),
        ("Admin@MyShop.dev", "admin@myshop.dev"),  # case-folded first
    ],
)
def test_look_alike_addresses_share_a_skeleton(one: str, other: str) -> None:
    assert emails.skeleton(one) == emails.skeleton(other)


def test_different_addresses_have_different_skeletons() -> None:
    assert emails.skeleton("admin@myshop.dev") != emails.skeleton("admln@myshop.dev")


@pytest.mark.parametrize(
    "email",
    [
        f"{FULL_WIDTH_A}dmin@myshop.dev",
        "\ufb01le@example.com",  # the fi ligature
        "user\u00b2@example.com",  # superscript two
        f"{CYRILLIC_A}dmin@myshop.dev",  # Latin and Cyrillic in one local part
        "admin@p\u0430ypal.com",  # ... in one domain label
        "admin@\u03c1aypal.com",  # Greek rho among Latin letters
        "a\u0301\u0301b@example.com",  # one combining mark twice: renders as once
    ],
)
def test_canonical_refuses_look_alike_characters_and_mixed_scripts(email: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        emails.canonical(email)

    assert refused.value.field == "email"


def test_canonical_keeps_the_local_part_and_lowers_the_idna_domain() -> None:
    canonical = emails.canonical("  Mixed.Case@B\u00dcCHER.Example ")

    assert canonical.address == "Mixed.Case@b\u00fccher.example"
    assert canonical.skeleton == emails.skeleton("mixed.case@b\u00fccher.example")


# --- register, through the users server ---


async def test_a_full_width_address_is_refused_whether_or_not_the_account_exists(
    accounts: Accounts, gql
) -> None:
    look_alike = register_variables(f"{FULL_WIDTH_A}dmin@myshop.dev")
    before = await gql("users", REGISTER, look_alike)
    await accounts.seed_demo()  # admin@myshop.dev now exists

    after = await gql("users", REGISTER, look_alike)

    assert refused_field(before) == (["BAD_USER_INPUT"], "email")
    assert after.body == before.body


@pytest.mark.parametrize("email", [f"{CYRILLIC_A}dmin@myshop.dev", "shopper@myshop.d\u0435v"])
async def test_an_address_mixing_latin_and_cyrillic_is_refused(gql, email: str) -> None:
    resp = await gql("users", REGISTER, register_variables(email))

    assert refused_field(resp) == (["BAD_USER_INPUT"], "email")
    assert resp.data is None


@pytest.mark.parametrize(
    ("existing", "look_alike"),
    [
        ("admin@shop.example", "adrnin@shop.example"),
        ("paypal@example.com", "paypa1@example.com"),
        ("Someone@example.com", "SOMEONE@EXAMPLE.com"),
    ],
)
async def test_a_look_alike_of_an_existing_address_answers_like_the_existing_address(
    accounts: Accounts, gql, users_sessions, existing: str, look_alike: str
) -> None:
    holder = await accounts.register(existing)

    same = await gql("users", REGISTER, register_variables(existing))
    similar = await gql("users", REGISTER, register_variables(look_alike))

    # The same answer as for the address itself (and as for a new one): no error, nothing learned ...
    assert similar.status_code == same.status_code == 200
    assert not similar.errors and not same.errors
    assert {key: value for key, value in similar.body["data"]["register"].items() if key != "email"} == {
        key: value for key, value in same.body["data"]["register"].items() if key != "email"
    }
    # ... no second account (the skeleton's unique index refused it), and the holder is told twice by mail
    async with users_sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM users")) == 1
    attempts = await accounts.events("SignUpAttempted")
    assert [attempt["userId"] for attempt in attempts] == [holder["user"]["id"]] * 2


async def test_account_with_address_finds_the_holder_of_the_address_or_of_its_skeleton(
    accounts: Accounts, users_sessions
) -> None:
    holder = await accounts.register("admin@lookup.example")

    async with users_sessions() as session:
        found = [
            await repository.account_with_address(session, email)
            for email in ("ADMIN@lookup.example", "adrnin@lookup.example", "admln@lookup.example")
        ]

    assert [user.id if user else None for user in found] == [uuid.UUID(holder["user"]["id"])] * 2 + [None]


@pytest.mark.parametrize(
    "email",
    [
        "\u0434\u043c\u0438\u0442\u0440\u0438\u0439@example.com",  # Cyrillic local part
        "\u03b1\u03bb\u03ad\u03be\u03b7\u03c2@example.gr",  # Greek local part
        "\u7530\u4e2d\u305f\u306a\u304b@example.jp",  # Han and Hiragana: one Japanese writing system
        "\u043f\u0435\u0442\u044f@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",  # Cyrillic throughout
    ],
)
async def test_an_address_in_one_non_latin_script_is_accepted(accounts: Accounts, email: str) -> None:
    payload = await accounts.register(email)

    assert payload["user"]["email"] == email
    assert (await accounts.login(email))["user"]["id"] == payload["user"]["id"]


async def test_an_idna_domain_is_stored_normalised_and_its_ascii_form_is_the_same_address(
    accounts: Accounts, gql, users_sessions
) -> None:
    payload = await accounts.register("Reader@B\u00dcCHER.example")

    punycode = await gql("users", REGISTER, register_variables("reader@xn--bcher-kva.example"))

    assert payload["user"]["email"] == "Reader@b\u00fccher.example"
    assert not punycode.errors  # the same answer as any sign-up; the owner is mailed instead
    assert [a["userId"] for a in await accounts.events("SignUpAttempted")] == [payload["user"]["id"]]
    async with users_sessions() as session:
        stored = (await session.execute(text("SELECT email, email_skeleton FROM users"))).one()
    assert stored == ("Reader@b\u00fccher.example", emails.skeleton("reader@b\u00fccher.example"))


# --- login ---


async def test_a_full_width_login_finds_the_account_and_still_needs_its_password(
    accounts: Accounts, gql
) -> None:
    registered = await accounts.register("admin@login.example")

    right = await accounts.login(f"{FULL_WIDTH_A}dmin@login.example")
    wrong = await gql(
        "users", LOGIN, {"email": f"{FULL_WIDTH_A}dmin@login.example", "password": "not the password"}
    )

    assert right["user"]["id"] == registered["user"]["id"]
    assert wrong.error_codes == ["UNAUTHENTICATED"]


async def test_an_account_made_before_the_rules_keeps_signing_in_with_its_own_address(
    accounts: Accounts, users_sessions
) -> None:
    legacy = await accounts.register("legacy@old.example", password="legacy password")
    full_width_l = "\uff4cegacy@old.example"
    async with users_sessions.begin() as session:  # as the issue found it: registered beside the real one
        await session.execute(
            text("UPDATE users SET email = :email, email_skeleton = NULL"), {"email": full_width_l}
        )
    real = await accounts.register("legacy@old.example")

    assert (await accounts.login(full_width_l, "legacy password"))["user"]["id"] == legacy["user"]["id"]
    assert (await accounts.login("LEGACY@old.example"))["user"]["id"] == real["user"]["id"]


# --- the migration ---


async def test_the_migration_gives_the_oldest_of_look_alike_accounts_the_skeleton_and_counts_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = registry.load("users").settings_class()
    name = f"{settings.database_prefix}users_skeleton_{uuid.uuid4().hex[:6]}"
    url = settings.database_url_on_server(name)
    await migrations.ensure_database(settings.postgres_url, name)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    rows = [  # oldest first
        "admin@myshop.dev",
        f"{FULL_WIDTH_A}dmin@myshop.dev",
        f"{CYRILLIC_A}dmin@myshop.dev",
        "customer@myshop.dev",
    ]
    try:
        await migrations.upgrade_async("users", url, "0003_addresses")
        async with engine.begin() as conn:
            for age, email in enumerate(rows):
                await conn.execute(
                    text(
                        "INSERT INTO users (id, email, name, password_hash, roles, created_at, updated_at) "
                        "VALUES (gen_random_uuid(), :email, 'N', 'x', ARRAY['CUSTOMER'], "
                        "now() - make_interval(days => 10 - :age), now())"
                    ),
                    {"email": email, "age": age},
                )

        with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
            await migrations.upgrade_async("users", url)

        async with engine.connect() as conn:
            result = await conn.execute(text("SELECT email, email_skeleton FROM users ORDER BY created_at"))
            stored = {email: value for email, value in result.all()}
        assert stored == {
            "admin@myshop.dev": emails.skeleton("admin@myshop.dev"),
            f"{FULL_WIDTH_A}dmin@myshop.dev": None,
            f"{CYRILLIC_A}dmin@myshop.dev": None,
            "customer@myshop.dev": emails.skeleton("customer@myshop.dev"),
        }
        assert any("2 account(s)" in record.getMessage() for record in caplog.records)
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE users SET email_skeleton = :s WHERE email = 'customer@myshop.dev'"),
                    {"s": emails.skeleton("admin@myshop.dev")},
                )
    finally:
        await engine.dispose()
        await migrations.drop_database(settings.postgres_url, name)
