"""The operations orders serves shipping: `fulfillmentOrder` (an order's lines) and `beginOrderShipment`
(the mark that makes an order uncancellable), SERVICE only and idempotent."""

from __future__ import annotations

import uuid

import pytest
from fulfillment_shop import (
    BEGIN_SHIPMENT,
    FULFILLMENT_ORDER,
    begin_shipment,
    confirmed_order,
    shipping_token,
)
from orders_shop import CANCEL, Shop
from sqlalchemy import text


async def test_fulfillment_order_answers_the_frozen_lines_numbered_from_one(shop: Shop) -> None:
    # Given a confirmed order of two products (1 and 2 units)
    customer, order, products = await confirmed_order(shop)

    # When shipping reads it
    found = (
        await shop.gql("orders", FULFILLMENT_ORDER, {"orderId": order["id"]}, token=shipping_token(shop))
    ).ok()["fulfillmentOrder"]

    # Then it has its owner, status, currency and the lines by their place, not yet shipped
    assert (found["id"], found["userId"], found["status"]) == (order["id"], customer.id, "CONFIRMED")
    assert found["currency"] == "USD" and found["shippedAt"] is None
    assert [(line["line"], line["productId"], line["quantity"]) for line in found["lines"]] == [
        (1, products[0], 1),
        (2, products[1], 2),
    ]
    # a product sold as one thing: its variant shares its id and has no label
    assert all(line["variantId"] == line["productId"] for line in found["lines"])
    assert all(line["variantLabel"] is None and line["productName"] for line in found["lines"])


async def test_fulfillment_order_of_an_unknown_order_is_null(shop: Shop) -> None:
    for order_id in (str(uuid.uuid4()), "not-an-id"):
        answer = await shop.gql(
            "orders", FULFILLMENT_ORDER, {"orderId": order_id}, token=shipping_token(shop)
        )
        assert answer.ok()["fulfillmentOrder"] is None


@pytest.mark.parametrize("who", ["customer", "admin", "partner", "anonymous"])
async def test_internal_operations_are_refused_without_the_service_role(shop: Shop, who: str) -> None:
    # Given a confirmed order
    customer, order, _ = await confirmed_order(shop, lines=1)
    tokens = {
        "customer": customer.token,
        "admin": shop.admin,
        "partner": shop.issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token,
        "anonymous": None,
    }
    expected = ["UNAUTHENTICATED"] if who == "anonymous" else ["FORBIDDEN"]

    # When anyone but a service reads it for shipping or begins its shipment
    read = await shop.gql("orders", FULFILLMENT_ORDER, {"orderId": order["id"]}, token=tokens[who])
    variables = {"orderId": order["id"], "shipmentId": str(uuid.uuid4())}
    begun = await shop.gql("orders", BEGIN_SHIPMENT, variables, token=tokens[who])

    # Then both are refused and the order stays cancellable
    assert read.error_codes == expected
    assert begun.error_codes == expected
    assert (await shop.rows("orders", "SELECT shipped_at FROM orders"))[0]["shipped_at"] is None


async def test_begin_shipment_marks_the_order_shipped_once_and_a_repeat_answers_the_same(shop: Shop) -> None:
    # Given a confirmed order
    _, order, _ = await confirmed_order(shop, lines=1)
    shipment = str(uuid.uuid4())

    # When shipping begins its shipment twice, then with a second parcel
    first = (await begin_shipment(shop, order["id"], shipment)).ok()["beginOrderShipment"]
    again = (await begin_shipment(shop, order["id"], shipment)).ok()["beginOrderShipment"]
    second_parcel = (await begin_shipment(shop, order["id"], str(uuid.uuid4()))).ok()["beginOrderShipment"]

    # Then the order is shipped from the first call on, and every answer is the same
    assert first["shippedAt"] is not None and first["status"] == "CONFIRMED"
    assert again == first and second_parcel == first
    stored = await shop.rows(
        "orders", "SELECT shipped_at FROM orders WHERE id = :id", id=uuid.UUID(order["id"])
    )
    assert stored[0]["shipped_at"] is not None


async def test_begin_shipment_of_a_cancelled_order_is_refused_with_its_status(shop: Shop) -> None:
    # Given a cancelled order
    customer, order, _ = await confirmed_order(shop, lines=1)
    (await shop.gql("orders", CANCEL, {"id": order["id"]}, token=customer.token)).ok()

    # When shipping begins a shipment of it
    answer = await begin_shipment(shop, order["id"], str(uuid.uuid4()))

    # Then it is refused, saying the order's status, and nothing is marked
    assert answer.error_codes == ["ORDER_NOT_SHIPPABLE"]
    assert answer.errors[0]["extensions"]["status"] == "CANCELLED"
    assert (await shop.rows("orders", "SELECT shipped_at FROM orders"))[0]["shipped_at"] is None


async def test_begin_shipment_of_an_order_still_being_placed_is_refused(shop: Shop) -> None:
    # Given a PENDING order whose saga is running (leased to a live process, so no recovery takes it): written
    # directly, as no sandbox token holds a saga still long enough to ship meanwhile
    order_id = uuid.uuid4()
    async with shop.engines["orders"].begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, currency, "
                "total_amount, payment_method, saga_state, lease_owner, lease_until) VALUES (:id, :user, "
                "'pending', :hash, 'PENDING', 'USD', 100, 'tok_approve', 'RUNNING', 'alive', "
                "now() + interval '5 minutes')"
            ),
            {"id": order_id, "user": uuid.uuid4(), "hash": "0" * 64},
        )

    # When shipping begins a shipment of it
    answer = await begin_shipment(shop, str(order_id), str(uuid.uuid4()))

    # Then it is refused with its status
    assert answer.error_codes == ["ORDER_NOT_SHIPPABLE"]
    assert answer.errors[0]["extensions"]["status"] == "PENDING"


async def test_begin_shipment_of_an_unknown_order_or_with_bad_ids_is_refused_by_field(shop: Shop) -> None:
    unknown = await begin_shipment(shop, str(uuid.uuid4()), str(uuid.uuid4()))
    assert unknown.error_codes == ["NOT_FOUND"]
    bad_order = await begin_shipment(shop, "nope", str(uuid.uuid4()))
    bad_shipment = await begin_shipment(shop, str(uuid.uuid4()), "x" * 5000)
    assert [e["extensions"]["field"] for e in bad_order.errors + bad_shipment.errors] == [
        "orderId",
        "shipmentId",
    ]
    assert bad_order.error_codes == bad_shipment.error_codes == ["BAD_USER_INPUT"]
