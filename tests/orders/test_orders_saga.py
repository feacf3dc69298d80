"""The order saga over real services: reserve, charge, confirm; and each way it can end otherwise."""

from __future__ import annotations

import asyncio
import uuid

from orders_shop import CANCEL as CANCEL_DOC
from orders_shop import Shop, statuses


async def test_happy_path_confirms_moves_stock_out_and_charges_once(shop: Shop) -> None:
    # Given a product with 10 units at 12.50
    product = await shop.product(price=1250, stock=10)
    customer = shop.customer()

    # When a customer orders 3
    order = (await shop.place(customer, [(product, 3)])).ok()["placeOrder"]

    # Then it is CONFIRMED after going through every status, at the catalog's price, frozen on the line
    assert order["status"] == "CONFIRMED"
    assert statuses(order) == ["PENDING", "INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "CONFIRMED"]
    assert order["total"] == {"amount": 3750, "currency": "USD"}
    assert order["items"][0]["unitPrice"] == {"amount": 1250, "currency": "USD"}
    assert order["user"]["id"] == customer.id
    # the 3 units left the shop (not merely reserved), the ledger agrees, and there is exactly one charge
    assert await shop.stock(product) == {"available": 7, "reserved": 0, "onHand": 7}
    assert await shop.ledger_sums(product) == (7, 0)
    assert await shop.payments_of(order["id"]) == [{"status": "CAPTURED", "amount": 3750, "currency": "USD"}]


async def test_declined_card_cancels_releases_stock_and_charges_nothing(shop: Shop) -> None:
    product = await shop.product(stock=5)
    customer = shop.customer()

    response = await shop.place(customer, [(product, 2)], method="tok_decline")

    assert response.error_codes == ["PAYMENT_DECLINED"]
    order_id = response.errors[0]["extensions"]["orderId"]
    order = await shop.order(order_id)
    assert order["status"] == "CANCELLED"
    assert order["failureCode"] == "PAYMENT_DECLINED"
    assert "card_declined" in order["failureReason"]
    assert statuses(order) == ["PENDING", "INVENTORY_RESERVED", "CANCELLED"]
    assert await shop.stock(product) == {"available": 5, "reserved": 0, "onHand": 5}
    assert [p["status"] for p in await shop.payments_of(order_id)] == ["DECLINED"]


async def test_payment_timeout_leaves_no_charge_and_releases_stock(impatient_shop: Shop) -> None:
    # The sandbox hangs `tok_timeout` (2.5 s) longer than a call and its retry (1 s each, 1.5 s deadline),
    # then approves: the worst case, money taken after the saga gave up on it.
    shop = impatient_shop
    product = await shop.product(stock=5)
    customer = shop.customer()

    response = await shop.place(customer, [(product, 1)], method="tok_timeout")

    assert response.error_codes == ["STEP_TIMEOUT"]
    order = await shop.order(response.errors[0]["extensions"]["orderId"])
    assert order["status"] == "FAILED"
    assert await shop.stock(product) == {"available": 5, "reserved": 0, "onHand": 5}
    # whatever the hanging charge did, nothing stays taken: refunded, or voided before it could charge
    assert [p["status"] for p in await shop.payments_of(order["id"])] in (["REFUNDED"], ["VOIDED"])


async def test_transient_payment_failure_is_retried_and_confirms(shop: Shop) -> None:
    product = await shop.product(stock=5)

    order = (await shop.place(shop.customer(), [(product, 1)], method="tok_flaky")).ok()["placeOrder"]

    assert order["status"] == "CONFIRMED"
    assert [p["status"] for p in await shop.payments_of(order["id"])] == ["CAPTURED"]
    steps = await shop.rows(
        "orders",
        "SELECT attempts FROM saga_steps WHERE order_id = :id AND step = 'charge'",
        id=uuid.UUID(order["id"]),
    )
    assert steps == [{"attempts": 1}]  # one step, retried inside it: the payment's key made it charge once


async def test_same_idempotency_key_returns_the_same_order(shop: Shop) -> None:
    product = await shop.product(stock=10)
    customer = shop.customer()

    first = (await shop.place(customer, [(product, 2)], key="cart-42")).ok()["placeOrder"]
    again = (await shop.place(customer, [(product, 2)], key="cart-42")).ok()["placeOrder"]

    assert again["id"] == first["id"]
    assert await shop.stock(product) == {"available": 8, "reserved": 0, "onHand": 8}
    assert len(await shop.payments_of(first["id"])) == 1


async def test_concurrent_retries_with_one_key_make_one_order(shop: Shop) -> None:
    product = await shop.product(stock=10)
    customer = shop.customer()

    responses = await asyncio.gather(
        *(shop.place(customer, [(product, 1)], key="double-click") for _ in range(5))
    )

    ids = {response.ok()["placeOrder"]["id"] for response in responses}
    assert len(ids) == 1
    assert await shop.stock(product) == {"available": 9, "reserved": 0, "onHand": 9}


async def test_same_key_from_another_user_is_another_order(shop: Shop) -> None:
    product = await shop.product(stock=10)

    first = (await shop.place(shop.customer(), [(product, 1)], key="k1")).ok()["placeOrder"]
    second = (await shop.place(shop.customer(), [(product, 1)], key="k1")).ok()["placeOrder"]

    assert first["id"] != second["id"]


async def test_reusing_a_key_for_another_cart_is_refused(shop: Shop) -> None:
    product = await shop.product(stock=10)
    customer = shop.customer()
    (await shop.place(customer, [(product, 1)], key="k2")).ok()

    response = await shop.place(customer, [(product, 2)], key="k2")

    assert response.error_codes == ["CONFLICT"]
    assert await shop.stock(product) == {"available": 9, "reserved": 0, "onHand": 9}


async def test_out_of_stock_is_refused_with_a_code_and_keeps_the_stock(shop: Shop) -> None:
    product = await shop.product(stock=2)

    response = await shop.place(shop.customer(), [(product, 3)])

    assert response.error_codes == ["OUT_OF_STOCK"]
    order = await shop.order(response.errors[0]["extensions"]["orderId"])
    assert order["status"] == "CANCELLED"
    assert await shop.stock(product) == {"available": 2, "reserved": 0, "onHand": 2}
    assert await shop.payments_of(order["id"]) == []


async def test_cancelling_a_confirmed_order_refunds_and_restocks(shop: Shop) -> None:
    product = await shop.product(stock=4)
    customer = shop.customer()
    placed = (await shop.place(customer, [(product, 3)])).ok()["placeOrder"]

    cancelled = (await shop.gql("orders", CANCEL_DOC, {"id": placed["id"]}, token=customer.token)).ok()

    order = cancelled["cancelOrder"]
    assert order["status"] == "CANCELLED"
    assert order["failureCode"] == "CANCELLED_BY_CUSTOMER"
    assert statuses(order)[-1] == "CANCELLED"
    assert await shop.stock(product) == {"available": 4, "reserved": 0, "onHand": 4}
    assert await shop.ledger_sums(product) == (4, 0)
    assert [p["status"] for p in await shop.payments_of(placed["id"])] == ["REFUNDED"]


async def test_cancel_retries_a_refund_that_fails_once(shop: Shop) -> None:
    product = await shop.product(stock=2)
    customer = shop.customer()
    placed = (await shop.place(customer, [(product, 1)], method="tok_refund_flaky")).ok()["placeOrder"]

    order = (await shop.gql("orders", CANCEL_DOC, {"id": placed["id"]}, token=shop.admin)).ok()["cancelOrder"]

    assert order["status"] == "CANCELLED"
    assert order["failureCode"] == "CANCELLED_BY_ADMIN"
    assert [p["status"] for p in await shop.payments_of(placed["id"])] == ["REFUNDED"]
    assert await shop.stock(product) == {"available": 2, "reserved": 0, "onHand": 2}
