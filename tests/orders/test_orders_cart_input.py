"""Cart input and limits: bad quantities and ids, currencies, a full cart, addresses from the book or given,
vouchers and shipping methods, and guest carts' rate limit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from cart_shop import (
    ADD,
    ADD_ADDRESS,
    BILL_TO,
    CART,
    CREATE,
    HOME,
    LONDON,
    METHOD,
    NO_VOUCHER,
    SHIP_TO,
    UPDATE,
    VOUCHER,
    account,
    cart_call,
)
from orders_shop import Shop

from subgraphs.orders import carts
from subgraphs.orders.carts import GUEST_CARTS_PER_ADDRESS, MAX_CART_LINES


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("quantity 0", "BAD_USER_INPUT", "quantity"),
        ("quantity 1001", "BAD_USER_INPUT", "quantity"),
        ("sum past 1000", "BAD_USER_INPUT", "quantity"),
        ("not an id", "BAD_USER_INPUT", "productId"),
        ("unknown product", "NOT_FOUND", "productId"),
        ("archived product", "BAD_USER_INPUT", "productId"),
        ("other currency", "BAD_USER_INPUT", "productId"),
    ],
)
async def test_a_bad_line_is_refused_and_the_cart_is_unchanged(
    shop: Shop, case: str, code: str, field: str
) -> None:
    product, euro = await shop.product(price=100), await shop.product(currency="EUR")
    customer = shop.customer()
    before = (await cart_call(shop, ADD, customer.token, product=product, quantity=600)).ok()["cartAddLine"]
    wanted: dict[str, Any] = {"product": product, "quantity": 1}
    if case == "quantity 0":
        wanted["quantity"] = 0
    elif case == "quantity 1001":
        wanted["quantity"] = 1001
    elif case == "sum past 1000":
        wanted["quantity"] = 401
    elif case == "not an id":
        wanted["product"] = "product-1"
    elif case == "unknown product":
        wanted["product"] = str(uuid.uuid4())
    elif case == "archived product":
        wanted["product"] = await shop.product()
        await shop.archive(wanted["product"])
    elif case == "other currency":
        wanted["product"] = euro

    response = await cart_call(shop, ADD, customer.token, **wanted)

    assert response.error_codes == [code]
    assert response.errors[0]["extensions"]["field"] == field
    after = (await cart_call(shop, CART, customer.token)).ok()["cart"]
    assert [(line["product"]["id"], line["quantity"]) for line in after["lines"]] == [(product, 600)]
    assert after["updatedAt"] == before["updatedAt"]


# Filling a cart asks back only its id (not its 100 lines after each add): the adds under test read it all.
FILL = "mutation Fill($product: ID!) { cartAddLine(productId: $product, quantity: 1) { id } }"


# A full cart of the stack's orders (in this process) holds this many lines, not MAX_CART_LINES (100): filling
# 100 lines one request each took 20-28 s of a run, and the refusal is the same rule at any limit (the 100 is
# the schema's, whose description states it: tests/test_schema_files.py).
SMALL_CART_LINES = 5


async def test_a_full_cart_refuses_another_product(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_CART_LINES > SMALL_CART_LINES
    monkeypatch.setattr(carts, "MAX_CART_LINES", SMALL_CART_LINES)
    customer = shop.customer()
    products = list(await asyncio.gather(*(shop.product(stock=0) for _ in range(SMALL_CART_LINES + 1))))
    for product in products[:SMALL_CART_LINES]:
        (await cart_call(shop, FILL, customer.token, product=product)).ok()

    response = await cart_call(shop, ADD, customer.token, product=products[-1], quantity=1)
    again = await cart_call(shop, ADD, customer.token, product=products[0], quantity=1)

    assert response.error_codes == ["CONFLICT"]
    assert response.errors[0]["extensions"]["reason"] == "CART_FULL"
    assert response.errors[0]["extensions"]["limit"] == SMALL_CART_LINES
    assert again.ok()["cartAddLine"]["lines"][0]["quantity"] == 2  # an existing line still grows


PROMOTION = "mutation P($input: PromotionInput!) { createPromotion(input: $input) { id } }"
ZONE = 'mutation { createShippingZone(name: "US", countries: ["US"]) { id } }'
SHIPPING_METHOD = (
    "mutation M($input: CreateShippingMethodInput!) { createShippingMethod(input: $input) { id } }"
)


async def us_method(shop: Shop) -> str:
    """A flat-rate method of a US zone (a method is chosen only where shipping offers it)."""
    zone = (await shop.gql("shipping", ZONE, {}, token=shop.admin)).ok()["createShippingZone"]["id"]
    method_input = {
        "zoneId": zone,
        "name": "Standard US",
        "minDeliveryDays": 2,
        "maxDeliveryDays": 5,
        "currency": "USD",
        "rateKind": "FLAT",
        "flatPrice": 500,
    }
    created = await shop.gql("shipping", SHIPPING_METHOD, {"input": method_input}, token=shop.admin)
    return str(created.ok()["createShippingMethod"]["id"])


async def test_an_address_from_the_book_is_copied_and_a_new_country_clears_the_method(shop: Shop) -> None:
    _, _, token = await account(shop)
    method = await us_method(shop)
    (await cart_call(shop, ADD, token, product=await shop.product(), quantity=1)).ok()
    home_id = (await shop.gql("users", ADD_ADDRESS, {"input": HOME}, token=token)).ok()["addAddress"]["id"]
    await cart_call(shop, SHIP_TO, token, addressId=home_id)
    with_method = (await cart_call(shop, METHOD, token, method=method)).ok()["cartSetShippingMethod"]

    moved = (await cart_call(shop, SHIP_TO, token, address=LONDON)).ok()["cartSetShippingAddress"]

    assert with_method["shippingCountry"] == "US"
    assert with_method["shippingAddress"]["postalCode"] == "62701"
    assert with_method["shippingAddress"]["phone"] == "+12175550100"
    assert with_method["shippingMethodId"] == method
    assert moved["shippingCountry"] == "GB"
    assert moved["shippingAddress"]["postalCode"] == "SW1A 2AA"
    assert moved["shippingMethodId"] is None


async def test_another_users_address_id_is_not_found(shop: Shop) -> None:
    _, _, owner = await account(shop)
    _, _, other = await account(shop)
    home_id = (await shop.gql("users", ADD_ADDRESS, {"input": HOME}, token=owner)).ok()["addAddress"]["id"]

    response = await cart_call(shop, BILL_TO, other, addressId=home_id)

    assert response.error_codes == ["NOT_FOUND"]
    assert response.errors[0]["extensions"]["field"] == "addressId"


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({**LONDON, "postalCode": "12345"}, "postalCode"),
        ({**HOME, "region": "ZZ"}, "region"),
        ({**HOME, "name": "  "}, "name"),
        ({**HOME, "phone": "12"}, "phone"),
    ],
)
async def test_an_invalid_inline_address_names_its_field(
    shop: Shop, address: dict[str, str], field: str
) -> None:
    token = (await cart_call(shop, CREATE)).ok()["createCart"]["token"]

    response = await cart_call(shop, SHIP_TO, None, address=address, token=token)

    assert response.error_codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == field
    assert (await cart_call(shop, CART, None, token=token)).ok()["cart"]["shippingAddress"] is None


async def test_an_address_needs_exactly_one_of_id_or_value(shop: Shop) -> None:
    customer = shop.customer()

    neither = await cart_call(shop, SHIP_TO, customer.token)
    both = await cart_call(shop, SHIP_TO, customer.token, addressId=str(uuid.uuid4()), address=HOME)

    assert neither.error_codes == ["BAD_USER_INPUT"] and both.error_codes == ["BAD_USER_INPUT"]


async def test_a_voucher_code_is_stored_normalised_and_removed(shop: Shop) -> None:
    customer = shop.customer()
    summer = {"name": "Summer", "kind": "PERCENTAGE", "value": 1000, "code": "SUMMER-10"}
    (await shop.gql("orders", PROMOTION, {"input": summer}, token=shop.admin)).ok()
    (await cart_call(shop, ADD, customer.token, product=await shop.product(), quantity=1)).ok()

    applied = (await cart_call(shop, VOUCHER, customer.token, code="  summer-10 ")).ok()["cartApplyVoucher"]
    bad = await cart_call(shop, VOUCHER, customer.token, code="no spaces!")
    removed = (await cart_call(shop, NO_VOUCHER, customer.token)).ok()["cartRemoveVoucher"]

    assert applied["voucherCode"] == "SUMMER-10"
    assert bad.error_codes == ["BAD_USER_INPUT"] and bad.errors[0]["extensions"]["field"] == "code"
    assert removed["voucherCode"] is None


async def test_guest_cart_creation_is_rate_limited_per_client_address(shop: Shop) -> None:
    for _ in range(GUEST_CARTS_PER_ADDRESS.attempts):
        (await cart_call(shop, CREATE)).ok()

    response = await cart_call(shop, CREATE)

    assert response.error_codes == ["RATE_LIMITED"]


async def test_a_service_token_has_no_cart_of_its_own(shop: Shop) -> None:
    response = await cart_call(shop, CART, shop.service)

    assert response.error_codes == ["FORBIDDEN"]


async def test_a_guest_cannot_use_an_address_book(shop: Shop) -> None:
    token = (await cart_call(shop, CREATE)).ok()["createCart"]["token"]

    response = await cart_call(shop, SHIP_TO, None, addressId=str(uuid.uuid4()), token=token)
    bad_quantity = await cart_call(shop, UPDATE, None, line=str(uuid.uuid4()), quantity=-1, token=token)

    assert response.error_codes == ["UNAUTHENTICATED"]
    assert bad_quantity.error_codes == ["BAD_USER_INPUT"]
