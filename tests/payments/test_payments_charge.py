"""chargePayment: outcomes by payment method token, one charge per key, transient failures, bad input."""

from __future__ import annotations

import asyncio

import pytest
from payments_api import HANG_SECONDS, PaymentsApi, charge_input, outbox_events, payment_rows, start_payments


async def test_an_approved_card_is_captured(payments: PaymentsApi, payments_db) -> None:
    given = charge_input(method="tok_approve", amount={"amount": 4599, "currency": "eur"})

    payment = (await payments.charge(given)).ok()["chargePayment"]

    assert payment["status"] == "CAPTURED"
    assert payment["amount"] == {"amount": 4599, "currency": "EUR"}
    assert payment["order"] == {"id": given["orderId"]}
    assert (payment["method"], payment["failureReason"], payment["refundedAt"]) == ("tok_approve", None, None)
    [row] = await payment_rows(payments_db)
    assert (str(row["id"]), row["key"], row["status"]) == (payment["id"], given["key"], "CAPTURED")
    assert row["provider_reference"]


async def test_a_capture_writes_payment_processed_in_its_transaction(
    payments: PaymentsApi, payments_db
) -> None:
    given = charge_input()

    payment = (await payments.charge(given)).ok()["chargePayment"]

    assert await outbox_events(payments_db) == [
        {
            "event_type": "PaymentProcessed",
            "aggregate_id": payment["id"],
            "payload": {
                "paymentId": payment["id"],
                "orderId": given["orderId"],
                "userId": given["userId"],
                "amount": 4599,
                "currency": "USD",
                "status": "CAPTURED",
                "failureReason": None,
            },
        }
    ]


async def test_a_declined_card_is_a_declined_payment_with_its_reason_not_an_error(
    payments: PaymentsApi, payments_db
) -> None:
    payment = (await payments.charge(charge_input(method="tok_decline"))).ok()["chargePayment"]

    assert (payment["status"], payment["failureReason"]) == ("DECLINED", "card_declined")
    [event] = await outbox_events(payments_db)
    assert (event["payload"]["status"], event["payload"]["failureReason"]) == ("DECLINED", "card_declined")


async def test_an_unknown_payment_method_is_declined_as_unknown(payments: PaymentsApi) -> None:
    payment = (await payments.charge(charge_input(method="tok_nonsense"))).ok()["chargePayment"]

    assert (payment["status"], payment["failureReason"]) == ("DECLINED", "unknown_payment_method")


async def test_a_known_key_returns_the_stored_payment_without_calling_the_provider(
    payments: PaymentsApi, payments_db
) -> None:
    given = charge_input()
    first = (await payments.charge(given)).ok()["chargePayment"]
    calls_before = await payments.provider_calls("charge")

    again = (await payments.charge(given)).ok()["chargePayment"]

    assert again == first
    assert await payments.provider_calls("charge") == calls_before
    assert len(await payment_rows(payments_db)) == 1
    assert len(await outbox_events(payments_db)) == 1


async def test_a_declined_key_charged_again_stays_declined_without_calling_the_provider(
    payments: PaymentsApi,
) -> None:
    given = charge_input(method="tok_decline")
    first = (await payments.charge(given)).ok()["chargePayment"]
    calls_before = await payments.provider_calls("charge")

    again = (await payments.charge(given)).ok()["chargePayment"]

    assert (again["id"], again["status"]) == (first["id"], "DECLINED")
    assert await payments.provider_calls("charge") == calls_before


async def test_concurrent_charges_with_one_key_make_one_row_and_one_provider_call(
    slow_payments: PaymentsApi, payments_db
) -> None:
    # tok_timeout hangs HANG_SECONDS in the provider: every call overlaps the first one's.
    given = charge_input(method="tok_timeout")
    calls_before = await slow_payments.provider_calls("charge")

    responses = await asyncio.gather(*(slow_payments.charge(given) for _ in range(5)))

    payments = [response.ok()["chargePayment"] for response in responses]
    assert {(payment["id"], payment["status"]) for payment in payments} == {(payments[0]["id"], "CAPTURED")}
    assert await slow_payments.provider_calls("charge") == calls_before + 1
    assert len(await payment_rows(payments_db)) == 1


async def test_a_transient_provider_failure_keeps_nothing_and_the_same_key_then_captures(
    payments: PaymentsApi, payments_db
) -> None:
    given = charge_input(method="tok_flaky")

    failed = await payments.charge(given)

    assert failed.error_codes == ["PAYMENT_PROVIDER_UNAVAILABLE"]
    assert failed.errors[0]["extensions"]["retryable"] is True
    assert failed.data is None
    assert await payment_rows(payments_db) == []
    assert await outbox_events(payments_db) == []

    retried = (await payments.charge(given)).ok()["chargePayment"]

    assert retried["status"] == "CAPTURED"
    assert [row["status"] for row in await payment_rows(payments_db)] == ["CAPTURED"]


async def test_a_provider_slower_than_the_timeout_is_unavailable_and_keeps_nothing(
    api_for, payments_db
) -> None:
    server = await asyncio.to_thread(
        start_payments, sandbox_hang_seconds=HANG_SECONDS, provider_timeout_seconds=0.2
    )
    try:
        response = await api_for(server).charge(charge_input(method="tok_timeout"))
    finally:
        await asyncio.to_thread(server.stop)

    assert response.error_codes == ["PAYMENT_PROVIDER_UNAVAILABLE"]
    assert await payment_rows(payments_db) == []


async def test_a_key_reused_for_another_charge_is_a_conflict(payments: PaymentsApi, payments_db) -> None:
    given = charge_input()
    (await payments.charge(given)).ok()

    response = await payments.charge({**given, "amount": {"amount": 1, "currency": "USD"}})

    assert response.error_codes == ["CONFLICT"]
    assert [row["amount"] for row in await payment_rows(payments_db)] == [4599]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": {"amount": 0, "currency": "USD"}}, "input.amount.amount"),
        ({"amount": {"amount": -100, "currency": "USD"}}, "input.amount.amount"),
        ({"amount": {"amount": 100, "currency": "XYZ"}}, "input.amount.currency"),
        ({"amount": {"amount": 100, "currency": ""}}, "input.amount.currency"),
        ({"method": ""}, "input.method"),
        ({"method": "   "}, "input.method"),
        ({"method": "t" * 101}, "input.method"),
        ({"key": ""}, "input.key"),
        ({"key": "k" * 201}, "input.key"),
        ({"orderId": "not-an-id"}, "input.orderId"),
        ({"userId": "42"}, "input.userId"),
    ],
)
async def test_bad_charge_input_is_bad_user_input_and_stores_nothing(
    payments: PaymentsApi, payments_db, overrides, field
) -> None:
    calls_before = await payments.provider_calls("charge")

    response = await payments.charge(charge_input(**overrides))

    assert response.error_codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == field
    assert await payment_rows(payments_db) == []
    assert await payments.provider_calls("charge") == calls_before


async def test_an_amount_beyond_graphql_int_is_bad_user_input(payments: PaymentsApi, payments_db) -> None:
    response = await payments.charge(charge_input(amount={"amount": 2**31, "currency": "USD"}))

    assert response.error_codes == ["BAD_USER_INPUT"]
    assert await payment_rows(payments_db) == []
