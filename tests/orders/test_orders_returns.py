"""Returns over the orders subgraph: who may ask and decide, what may be returned (delivered units, within the
window, never twice), idempotent transitions, and the refund and restock that follow the receipt."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from orders_shop import Shop
from returns_shop import APPROVE, LIST, ONE, ORDER_RETURNS, RECEIVE, REJECT, Returns, refund_of


@pytest.fixture
def returns(shop: Shop) -> Returns:
    return Returns(shop)


async def test_a_received_return_is_refunded_and_restocked_once(shop: Shop, returns: Returns) -> None:
    # Given a delivered order of 3 units at 7.00
    product = await shop.product(price=700, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 3)])
    await returns.deliver(order_id, [(1, 3)])

    # When the customer returns 2 of them and staff approves and receives them
    requested = await returns.request(customer.token, order_id, [(1, 2)])
    assert (requested["status"], refund_of(requested)["total"]) == ("REQUESTED", 1400)
    await returns.approve(requested["id"])
    received = await returns.receive(requested["id"])

    # Then the money is back (one partial refund), the units on hand, and the return REFUNDED
    assert received["status"] == "REFUNDED"
    assert received["refundedAt"] is not None
    assert await returns.partial_refunds(order_id) == [
        {"key": f"return:{requested['id']}:refund", "amount": 1400, "partial": True}
    ]
    assert await shop.stock(product) == {"available": 9, "reserved": 0, "onHand": 9}
    assert await returns.steps(requested["id"]) == {"refund": ("DONE", 1), "restock": ("DONE", 1)}
    assert [event for event, _ in await returns.events(requested["id"])] == [
        "ReturnRequested",
        "ReturnApproved",
        "ReturnReceived",
        "ReturnRefunded",
    ]


async def test_return_events_carry_the_return_its_lines_and_refund(shop: Shop, returns: Returns) -> None:
    product = await shop.product(price=700, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 3)])
    await returns.deliver(order_id, [(1, 3)])

    received = await returns.refunded(customer.token, order_id, [(1, 1)])

    _, payload = (await returns.events(received["id"]))[-1]
    assert payload == {
        "returnId": received["id"],
        "orderId": order_id,
        "userId": customer.id,
        "status": "REFUNDED",
        "reason": "Does not fit",
        "lines": [
            {
                "line": 1,
                "productId": product,
                "variantId": product,
                "productName": received["lines"][0]["productName"],
                "variantLabel": None,
                "quantity": 1,
                "refund": 700,
            }
        ],
        "refund": {"subtotal": 700, "discount": 0, "tax": 0, "shipping": 0, "total": 700},
        "currency": "USD",
        "rejectionReason": None,
    }


async def test_repeated_transitions_answer_the_same_and_act_once(shop: Shop, returns: Returns) -> None:
    product = await shop.product(price=500, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 2)])
    await returns.deliver(order_id, [(1, 2)])
    requested = await returns.request(customer.token, order_id, [(1, 1)], key="once")

    again = await returns.request(customer.token, order_id, [(1, 1)], key="once")
    approvals = await asyncio.gather(*(returns.approve(requested["id"]) for _ in range(3)))
    receipts = await asyncio.gather(*(returns.receive(requested["id"]) for _ in range(3)))
    late = await returns.receive(requested["id"])

    assert again["id"] == requested["id"]
    assert {approval["status"] for approval in approvals} == {"APPROVED"}
    assert {receipt["id"] for receipt in receipts} == {requested["id"]}
    assert late["status"] == "REFUNDED"
    assert [row["amount"] for row in await returns.partial_refunds(order_id)] == [500]
    assert await shop.ledger_sums(product) == (9, 0)  # 10 - 2 sold + 1 back
    assert [event for event, _ in await returns.events(requested["id"])] == [
        "ReturnRequested",
        "ReturnApproved",
        "ReturnReceived",
        "ReturnRefunded",
    ]


async def test_the_same_key_with_another_request_is_a_conflict(shop: Shop, returns: Returns) -> None:
    product = await shop.product(price=500, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 2)])
    await returns.deliver(order_id, [(1, 2)])
    await returns.request(customer.token, order_id, [(1, 1)], key="k")

    response = await returns.request_call(customer.token, order_id, [(1, 2)], key="k")

    assert response.error_codes == ["CONFLICT"]


async def test_nothing_delivered_is_not_returnable(shop: Shop, returns: Returns) -> None:
    product = await shop.product(price=500, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 2)])

    response = await returns.request_call(customer.token, order_id, [(1, 1)])

    assert response.error_codes == ["RETURN_NOT_ALLOWED"]
    assert response.errors[0]["extensions"]["reason"] == "NOT_DELIVERED"


async def test_units_delivered_before_the_window_are_not_returnable(shop: Shop, returns: Returns) -> None:
    product = await shop.product(price=500, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 3)])
    await returns.deliver(order_id, [(1, 2)], days_ago=31)  # the window is 30 days
    await returns.deliver(order_id, [(1, 1)], days_ago=29)

    too_many = await returns.request_call(customer.token, order_id, [(1, 2)])
    within = await returns.request_call(customer.token, order_id, [(1, 1)])

    assert too_many.error_codes == ["RETURN_NOT_ALLOWED"]
    assert too_many.errors[0]["extensions"] | {"field": None} == {
        "code": "RETURN_NOT_ALLOWED",
        "field": None,
        "reason": "WINDOW_PASSED",
        "returnable": 1,
    }
    assert within.ok()["requestReturn"]["status"] == "REQUESTED"


async def test_more_than_delivered_and_not_yet_returned_is_refused_until_a_return_is_rejected(
    shop: Shop, returns: Returns
) -> None:
    product = await shop.product(price=500, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 3)])
    await returns.deliver(order_id, [(1, 2)])  # the third unit is not delivered yet

    over = await returns.request_call(customer.token, order_id, [(1, 3)])
    first = await returns.request(customer.token, order_id, [(1, 2)])
    again = await returns.request_call(customer.token, order_id, [(1, 1)])
    (await returns.call(REJECT, id=first["id"], reason="Worn")).ok()
    after_rejection = await returns.request_call(customer.token, order_id, [(1, 2)])

    assert over.error_codes == ["BAD_USER_INPUT"]
    assert over.errors[0]["extensions"]["field"] == "input.lines[0].quantity"
    assert again.error_codes == ["BAD_USER_INPUT"]
    assert again.errors[0]["extensions"]["returnable"] == 0
    assert after_rejection.ok()["requestReturn"]["status"] == "REQUESTED"


async def test_a_rejected_return_cannot_be_approved_or_received(shop: Shop, returns: Returns) -> None:
    product = await shop.product(price=500, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 1)])
    await returns.deliver(order_id, [(1, 1)])
    requested = await returns.request(customer.token, order_id, [(1, 1)])
    rejected = (await returns.call(REJECT, id=requested["id"], reason="Worn")).ok()["rejectReturn"]

    approve = await returns.call(APPROVE, id=requested["id"])
    receive = await returns.call(RECEIVE, id=requested["id"])

    assert (rejected["status"], rejected["rejectionReason"]) == ("REJECTED", "Worn")
    assert approve.error_codes == ["CONFLICT"] and receive.error_codes == ["CONFLICT"]
    assert await returns.partial_refunds(order_id) == []


async def test_only_the_orders_customer_or_an_admin_asks_and_only_staff_decides(
    shop: Shop, returns: Returns
) -> None:
    product = await shop.product(price=500, stock=10)
    customer, stranger = shop.customer(), shop.customer()
    partner = shop.issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    order_id = await returns.confirmed_order(customer, [(product, 2)])
    await returns.deliver(order_id, [(1, 2)])

    by_stranger = await returns.request_call(stranger.token, order_id, [(1, 1)])
    by_admin = await returns.request_call(shop.admin, order_id, [(1, 1)])
    requested = by_admin.ok()["requestReturn"]
    approved_by_customer = await returns.call(APPROVE, customer.token, id=requested["id"])
    approved_by_partner = await returns.call(APPROVE, partner, id=requested["id"])
    read_by_customer = await returns.call(ONE, customer.token, id=requested["id"])
    read_by_stranger = await returns.call(ONE, stranger.token, id=requested["id"])
    listed_by_customer = await returns.call(LIST, customer.token)
    listed_by_partner = await returns.call(LIST, partner, status="APPROVED", first=50)

    assert by_stranger.error_codes == ["FORBIDDEN"]
    assert approved_by_customer.error_codes == ["FORBIDDEN"]
    assert approved_by_partner.ok()["approveReturn"]["status"] == "APPROVED"
    assert read_by_customer.ok()["return"]["id"] == requested["id"]
    assert read_by_stranger.error_codes == ["FORBIDDEN"]
    assert listed_by_customer.error_codes == ["FORBIDDEN"]
    listed = [edge["node"]["id"] for edge in listed_by_partner.ok()["returns"]["edges"]]
    assert requested["id"] in listed


async def test_an_order_lists_its_returns(shop: Shop, returns: Returns) -> None:
    product = await shop.product(price=500, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 2)])
    await returns.deliver(order_id, [(1, 2)])
    first = await returns.request(customer.token, order_id, [(1, 1)])
    second = await returns.request(customer.token, order_id, [(1, 1)])

    order = (await returns.call(ORDER_RETURNS, customer.token, id=order_id)).ok()["order"]

    assert order["returns"] == [
        {"id": first["id"], "status": "REQUESTED"},
        {"id": second["id"], "status": "REQUESTED"},
    ]


@pytest.mark.parametrize(
    ("lines", "reason", "field"),
    [
        ([], "Too big", "input.lines"),
        ([(1, 0)], "Too big", "input.lines[0].quantity"),
        ([(2, 1)], "Too big", "input.lines[0].line"),
        ([(1, 1), (1, 1)], "Too big", "input.lines[1].line"),
        ([(1, 1)], " ", "input.reason"),
        ([(1, 1)], "r" * 501, "input.reason"),
    ],
)
async def test_bad_return_input_is_bad_user_input(shop: Shop, returns: Returns, lines, reason, field) -> None:
    product = await shop.product(price=500, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 2)])
    await returns.deliver(order_id, [(1, 2)])

    response = await returns.request_call(customer.token, order_id, lines, reason=reason)

    assert response.error_codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == field


async def test_concurrent_requests_never_return_the_same_units_twice(shop: Shop, returns: Returns) -> None:
    product = await shop.product(price=500, stock=10)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 2)])
    await returns.deliver(order_id, [(1, 2)])

    responses = await asyncio.gather(
        *(returns.request_call(customer.token, order_id, [(1, 2)]) for _ in range(4))
    )

    assert sorted(str(response.error_codes) for response in responses) == [
        "['BAD_USER_INPUT']",
        "['BAD_USER_INPUT']",
        "['BAD_USER_INPUT']",
        "[]",
    ]
