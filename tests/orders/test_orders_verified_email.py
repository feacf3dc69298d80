"""placeOrder and the verified-email setting (MYSHOP_VERIFIED_EMAIL_REQUIRED_FOR): the access token's
`email_verified` claim decides, no call to users."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from orders_shop import Customer, Shop

from shared.settings import ServiceSettings


def customer(shop: Shop, *, verified: bool | None) -> Customer:
    user_id = str(uuid.uuid4())
    return Customer(user_id, shop.issuer.issue(user_id, ["CUSTOMER"], email_verified=verified).token)


@pytest.fixture
def verification_required(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The orders server (in this process) refuses unverified customers, as production does by default."""
    monkeypatch.setattr(api.settings["orders"], "verified_email_required_for", ("placeOrder",))


@pytest.mark.usefixtures("verification_required")
@pytest.mark.parametrize("verified", [False, None], ids=["claim false", "no claim"])
async def test_an_unverified_customer_cannot_place_an_order_where_the_setting_says_so(
    shop: Shop, verified: bool | None
) -> None:
    product = await shop.product(stock=5)

    unverified = customer(shop, verified=verified)

    response = await shop.place(unverified, [(product, 1)])

    assert response.error_codes == ["FORBIDDEN"]
    assert response.errors[0]["extensions"]["reason"] == "EMAIL_NOT_VERIFIED"
    mine = "SELECT count(*) AS n FROM orders WHERE user_id = CAST(:user AS uuid)"
    assert await shop.rows("orders", mine, user=unverified.id) == [{"n": 0}]


@pytest.mark.usefixtures("verification_required")
async def test_a_verified_customer_places_an_order_where_the_setting_says_so(shop: Shop) -> None:
    product = await shop.product(stock=5)

    response = await shop.place(customer(shop, verified=True), [(product, 1)])

    assert response.ok()["placeOrder"]["status"] == "CONFIRMED"


async def test_an_unverified_customer_places_an_order_by_default_outside_production(shop: Shop) -> None:
    product = await shop.product(stock=5)

    response = await shop.place(customer(shop, verified=False), [(product, 1)])

    assert response.ok()["placeOrder"]["status"] == "CONFIRMED"


@pytest.mark.parametrize(
    ("environment", "configured", "required"),
    [
        ("production", None, True),
        ("development", None, False),
        ("test", None, False),
        ("production", "", False),
        ("development", "placeOrder, cancelOrder", True),
    ],
)
def test_the_setting_defaults_to_place_order_in_production_only(
    monkeypatch: pytest.MonkeyPatch, environment: str, configured: str | None, required: bool
) -> None:
    monkeypatch.setenv("MYSHOP_ENV", environment)
    if configured is None:
        monkeypatch.delenv("MYSHOP_VERIFIED_EMAIL_REQUIRED_FOR", raising=False)
    else:
        monkeypatch.setenv("MYSHOP_VERIFIED_EMAIL_REQUIRED_FOR", configured)

    assert ServiceSettings().requires_verified_email("placeOrder") is required
