"""Promotions: which apply to a cart (best automatic + voucher, coded refusals) and admin CRUD over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.errors import MyShopError
from subgraphs.orders import promotion_repository
from subgraphs.orders.models import Promotion
from subgraphs.orders.pricing import DiscountKind, PricedLine, price
from subgraphs.orders.promotions import CartView, applicable_discounts

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
BOOK = str(uuid.uuid4())
MUG = str(uuid.uuid4())
LINES = [
    PricedLine("1", BOOK, "Books", "reduced", 2000, 1),
    PricedLine("2", MUG, "Home & Kitchen", "standard", 1000, 3),
]


@pytest.fixture
async def session(api: Any, engines: dict[str, AsyncEngine]) -> AsyncIterator[AsyncSession]:
    async with async_sessionmaker(engines["orders"], expire_on_commit=False)() as session, session.begin():
        yield session


async def add(session: AsyncSession, **values: Any) -> Promotion:
    values = {"name": "P", "kind": "PERCENTAGE", "value": 1000, "scope": "ALL", **values}
    return await promotion_repository.insert(session, values)


def cart(**kw: Any) -> CartView:
    return CartView(**{"lines": LINES, "currency": "EUR", "now": NOW, "user_id": uuid.uuid4(), **kw})


async def test_the_best_automatic_promotion_applies_then_the_voucher(session):
    await add(session, name="10% off")  # 500 of 5000
    best = await add(session, name="15 off books", kind="FIXED_AMOUNT", value=1500, currency="EUR",
                     scope="CATEGORIES", categories=["Books"])  # fmt: skip
    await add(session, name="over", ends_at=NOW - timedelta(seconds=1), value=9000)
    voucher = await add(
        session, name="Mugs 20%", code="MUGS20", value=2000, scope="PRODUCTS", product_ids=[MUG]
    )

    discounts = await applicable_discounts(session, cart(), "  mugs20 ")

    assert [d.promotion_id for d in discounts] == [str(best.id), str(voucher.id)]
    breakdown = price(
        LINES,
        currency="EUR",
        country=None,
        shipping_amount=0,
        rates={},
        prices_include_tax=False,
        discounts=discounts,
    )
    # 15.00 off the book; then 20% of the mugs' 30.00 = 6.00.
    assert [line.discount for line in breakdown.lines] == [1500, 600]
    assert breakdown.total == 5000 - 2100


async def test_free_shipping_is_worth_the_shipping_price_when_choosing_the_automatic_one(session):
    await add(session, name="1%", value=100)  # 50
    free = await add(session, name="free shipping", kind="FREE_SHIPPING", value=0)

    assert [d.kind for d in await applicable_discounts(session, cart(shipping_amount=490))] == [
        DiscountKind.FREE_SHIPPING
    ]
    assert [d.promotion_id for d in await applicable_discounts(session, cart(shipping_amount=10))] != [
        str(free.id)
    ]


@pytest.mark.parametrize(
    ("values", "view", "code", "reason"),
    [
        ({"code": "OTHER"}, {}, "BAD_USER_INPUT", "VOUCHER_UNKNOWN"),
        ({"code": "SAVE", "active": False}, {}, "BAD_USER_INPUT", "VOUCHER_UNKNOWN"),
        ({"code": "SAVE", "ends_at": NOW}, {}, "BAD_USER_INPUT", "VOUCHER_EXPIRED"),
        (
            {"code": "SAVE", "starts_at": NOW + timedelta(hours=1)},
            {},
            "BAD_USER_INPUT",
            "VOUCHER_NOT_YET_VALID",
        ),
        ({"code": "SAVE", "usage_limit": 1, "used_count": 1}, {}, "CONFLICT", "VOUCHER_USED_UP"),
        (
            {"code": "SAVE", "per_customer_limit": 1},
            {"user_id": None},
            "BAD_USER_INPUT",
            "VOUCHER_SIGN_IN_REQUIRED",
        ),
        (
            {"code": "SAVE", "currency": "USD", "minimum_subtotal": 0},
            {},
            "BAD_USER_INPUT",
            "VOUCHER_CURRENCY",
        ),
        (
            {"code": "SAVE", "currency": "EUR", "minimum_subtotal": 5001},
            {},
            "BAD_USER_INPUT",
            "VOUCHER_MINIMUM_NOT_MET",
        ),
        (
            {"code": "SAVE", "scope": "CATEGORIES", "categories": ["Toys"]},
            {},
            "BAD_USER_INPUT",
            "VOUCHER_NOT_APPLICABLE",
        ),
    ],
)
async def test_a_voucher_that_does_not_apply_says_why(session, values, view, code, reason):
    await add(session, **values)

    with pytest.raises(MyShopError) as refused:
        await applicable_discounts(session, cart(**view), "save")

    assert refused.value.extensions["code"] == code
    assert refused.value.extensions["reason"] == reason
    assert refused.value.extensions["field"] == "code"


async def test_a_customer_who_used_a_voucher_up_to_their_limit_is_refused(session):
    voucher = await add(session, code="ONCE", per_customer_limit=1)
    customer = uuid.uuid4()
    await promotion_repository.reserve_use(session, voucher.id, uuid.uuid4(), customer)

    with pytest.raises(MyShopError) as refused:
        await applicable_discounts(session, cart(user_id=customer), "ONCE")

    assert refused.value.extensions["reason"] == "VOUCHER_ALREADY_USED"
    assert len(await applicable_discounts(session, cart(), "ONCE")) == 1  # another customer


async def test_the_minimum_is_met_at_exactly_the_subtotal_before_discounts(session):
    await add(session, code="MIN", currency="EUR", minimum_subtotal=5000)

    assert len(await applicable_discounts(session, cart(), "MIN")) == 1


# --- admin over HTTP ---

FIELDS = "id name kind value currency scope productIds categories code usageLimit usedCount active"
CREATE = f"mutation C($input: PromotionInput!) {{ createPromotion(input: $input) {{ {FIELDS} }} }}"
UPDATE = f"""
mutation U($id: ID!, $input: PromotionInput!) {{ updatePromotion(id: $id, input: $input) {{ {FIELDS} }} }}
"""
DELETE = "mutation D($id: ID!) { deletePromotion(id: $id) }"
LIST = f"query L($all: Boolean!) {{ promotions(includeInactive: $all) {{ {FIELDS} }} }}"


@pytest.fixture
def admin(issuer: Any) -> str:
    return issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token


def voucher_input(**overrides: Any) -> dict[str, Any]:
    return {"name": "Summer", "kind": "PERCENTAGE", "value": 1000, "code": "Summer10", **overrides}


async def test_an_admin_creates_lists_updates_and_deletes_a_voucher(gql, admin):
    created = (await gql("orders", CREATE, {"input": voucher_input()}, token=admin)).ok()["createPromotion"]
    assert (created["code"], created["scope"], created["usedCount"], created["active"]) == (
        "Summer10",
        "ALL",
        0,
        True,
    )

    updated = (
        await gql("orders", UPDATE, {"id": created["id"], "input": voucher_input(active=False)}, token=admin)
    ).ok()["updatePromotion"]
    assert updated["active"] is False
    assert (await gql("orders", LIST, {"all": False}, token=admin)).ok()["promotions"] == []
    assert [p["id"] for p in (await gql("orders", LIST, {"all": True}, token=admin)).ok()["promotions"]] == [
        created["id"]
    ]

    assert (await gql("orders", DELETE, {"id": created["id"]}, token=admin)).ok()["deletePromotion"] is True
    assert (await gql("orders", DELETE, {"id": created["id"]}, token=admin)).error_codes == ["NOT_FOUND"]


async def test_a_code_is_taken_whatever_its_case(gql, admin):
    (await gql("orders", CREATE, {"input": voucher_input()}, token=admin)).ok()

    again = await gql("orders", CREATE, {"input": voucher_input(code="SUMMER10")}, token=admin)

    assert again.error_codes == ["CONFLICT"]
    assert again.errors[0]["extensions"]["reason"] == "VOUCHER_CODE_TAKEN"


async def test_a_usage_limit_below_the_uses_counted_is_refused(gql, admin, engines):
    created = (await gql("orders", CREATE, {"input": voucher_input(usageLimit=5)}, token=admin)).ok()[
        "createPromotion"
    ]
    async with async_sessionmaker(engines["orders"])() as session, session.begin():
        for _ in range(3):
            await promotion_repository.reserve_use(session, uuid.UUID(created["id"]), uuid.uuid4(), None)

    resp = await gql(
        "orders", UPDATE, {"id": created["id"], "input": voucher_input(usageLimit=2)}, token=admin
    )

    assert resp.error_codes == ["CONFLICT"]
    assert resp.errors[0]["extensions"]["reason"] == "BELOW_USED_COUNT"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": " "}, "name"),
        ({"value": 0}, "value"),
        ({"value": 10_001}, "value"),
        ({"kind": "FIXED_AMOUNT", "value": 500}, "currency"),
        ({"currency": "XXX1"}, "currency"),
        ({"minimumSubtotal": 1000}, "currency"),
        ({"scope": "CATEGORIES"}, "categories"),
        ({"scope": "PRODUCTS", "productIds": ["nope"]}, "productIds"),
        ({"categories": ["Books"]}, "scope"),
        ({"startsAt": "2026-12-06T12:00:00+00:00", "endsAt": "2026-12-06T11:00:00+00:00"}, "endsAt"),
        ({"code": "a b"}, "code"),
        ({"usageLimit": 0}, "usageLimit"),
        ({"perCustomerLimit": -1}, "perCustomerLimit"),
    ],
)
async def test_a_bad_promotion_is_refused_with_its_field(gql, admin, overrides, field):
    resp = await gql("orders", CREATE, {"input": voucher_input(**overrides)}, token=admin)

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == field


@pytest.mark.parametrize(
    ("role", "code"), [("CUSTOMER", "FORBIDDEN"), ("PARTNER", "FORBIDDEN"), (None, "UNAUTHENTICATED")]
)
async def test_only_admins_manage_promotions(gql, issuer, role, code):
    token = issuer.issue(str(uuid.uuid4()), [role]).token if role else None

    assert (await gql("orders", CREATE, {"input": voucher_input()}, token=token)).error_codes == [code]
    assert (await gql("orders", LIST, {"all": True}, token=token)).error_codes == [code]
    assert (await gql("orders", DELETE, {"id": str(uuid.uuid4())}, token=token)).error_codes == [code]
