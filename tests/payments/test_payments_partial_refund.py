"""refundPaymentPartially: part of a capture given back once per key (a return's refund), never more than what
is left; the full refund (order cancelled) gives back the rest."""

from __future__ import annotations

import asyncio

import pytest
from payments_api import PaymentsApi, charge_input, outbox_events, payment_rows


async def charged(payments: PaymentsApi, **overrides) -> dict:
    given = charge_input(**overrides)
    payment = (await payments.charge(given)).ok()["chargePayment"]
    return {**given, "paymentId": payment["id"]}


async def test_a_partial_refund_gives_part_back_and_leaves_the_payment_partially_refunded(
    payments: PaymentsApi, payments_db, token_of
) -> None:
    given = await charged(payments)
    calls_before = await payments.provider_calls("refund_partially")

    refund = (await payments.refund_partially(given["orderId"], 1000, reason="return 1")).ok()

    assert refund["refundPaymentPartially"]["amount"] == {"amount": 1000, "currency": "USD"}
    assert await payments.provider_calls("refund_partially") == calls_before + 1
    payment = (await payments.refunds(given["paymentId"], token=token_of("ADMIN"))).ok()["payment"]
    assert payment == {
        "status": "PARTIALLY_REFUNDED",
        "refundedAmount": {"amount": 1000, "currency": "USD"},
        "refundedAt": None,
        "refunds": [
            {"id": refund["refundPaymentPartially"]["id"], "amount": {"amount": 1000}, "reason": "return 1"}
        ],
    }


async def test_partial_refunds_that_give_everything_back_make_the_payment_refunded(
    payments: PaymentsApi, payments_db
) -> None:
    given = await charged(payments)  # 4599

    (await payments.refund_partially(given["orderId"], 4000)).ok()
    (await payments.refund_partially(given["orderId"], 599)).ok()

    [row] = await payment_rows(payments_db)
    assert (row["status"], row["refunded_amount"]) == ("REFUNDED", 4599)
    assert row["refunded_at"] is not None


async def test_a_partial_refund_writes_payment_refunded_with_its_own_amount_and_the_total(
    payments: PaymentsApi, payments_db
) -> None:
    given = await charged(payments)
    (await payments.refund_partially(given["orderId"], 100)).ok()

    refund = (await payments.refund_partially(given["orderId"], 250, reason="return 2")).ok()

    event = (await outbox_events(payments_db))[-1]
    assert event["event_type"] == "PaymentRefunded"
    assert event["payload"] == {
        "paymentId": given["paymentId"],
        "orderId": given["orderId"],
        "userId": given["userId"],
        "amount": 250,
        "currency": "USD",
        "reason": "return 2",
        "refundId": refund["refundPaymentPartially"]["id"],
        "refundedTotal": 350,
        "partial": True,
    }


async def test_a_repeated_key_answers_the_first_refund_without_refunding_again(
    payments: PaymentsApi, payments_db
) -> None:
    given = await charged(payments)
    first = (await payments.refund_partially(given["orderId"], 700, key="return:r1:refund")).ok()
    calls_before = await payments.provider_calls("refund_partially")

    again = (await payments.refund_partially(given["orderId"], 700, key="return:r1:refund")).ok()

    assert again == first
    assert await payments.provider_calls("refund_partially") == calls_before
    assert [row["refunded_amount"] for row in await payment_rows(payments_db)] == [700]


async def test_concurrent_repeats_of_a_key_refund_once(payments: PaymentsApi, payments_db) -> None:
    given = await charged(payments)

    responses = await asyncio.gather(
        *(payments.refund_partially(given["orderId"], 700, key="return:r2:refund") for _ in range(4))
    )

    assert len({response.ok()["refundPaymentPartially"]["id"] for response in responses}) == 1
    assert [row["refunded_amount"] for row in await payment_rows(payments_db)] == [700]
    assert [event["event_type"] for event in await outbox_events(payments_db)].count("PaymentRefunded") == 1


async def test_a_key_reused_with_another_amount_is_a_conflict(payments: PaymentsApi) -> None:
    given = await charged(payments)
    (await payments.refund_partially(given["orderId"], 700, key="return:r3:refund")).ok()

    response = await payments.refund_partially(given["orderId"], 701, key="return:r3:refund")

    assert response.error_codes == ["CONFLICT"]


async def test_a_refund_beyond_what_is_left_is_refused_and_changes_nothing(
    payments: PaymentsApi, payments_db
) -> None:
    given = await charged(payments)
    (await payments.refund_partially(given["orderId"], 4000)).ok()

    response = await payments.refund_partially(given["orderId"], 600)

    assert response.error_codes == ["REFUND_EXCEEDS_PAYMENT"]
    assert response.errors[0]["extensions"]["refundable"] == 599
    assert [row["refunded_amount"] for row in await payment_rows(payments_db)] == [4000]


async def test_a_partial_refund_of_a_declined_payment_exceeds_it(payments: PaymentsApi) -> None:
    given = await charged(payments, method="tok_decline")

    response = await payments.refund_partially(given["orderId"], 1)

    assert response.error_codes == ["REFUND_EXCEEDS_PAYMENT"]


async def test_the_full_refund_after_partial_ones_gives_back_only_the_rest(
    payments: PaymentsApi, payments_db
) -> None:
    given = await charged(payments)
    (await payments.refund_partially(given["orderId"], 1000)).ok()

    refunded = (await payments.refund(given["key"], "order cancelled")).ok()["refundPayment"]

    assert refunded["status"] == "REFUNDED"
    [row] = await payment_rows(payments_db)
    assert row["refunded_amount"] == 4599
    last = (await outbox_events(payments_db))[-1]["payload"]
    assert (last["amount"], last["refundedTotal"], last["partial"]) == (3599, 4599, False)


async def test_a_transient_provider_failure_keeps_nothing_and_the_retry_refunds(
    payments: PaymentsApi, payments_db
) -> None:
    given = await charged(payments, method="tok_refund_flaky")

    failed = await payments.refund_partially(given["orderId"], 500, key="return:r4:refund")
    assert failed.error_codes == ["PAYMENT_PROVIDER_UNAVAILABLE"]
    assert [row["refunded_amount"] for row in await payment_rows(payments_db)] == [0]

    (await payments.refund_partially(given["orderId"], 500, key="return:r4:refund")).ok()
    assert [row["refunded_amount"] for row in await payment_rows(payments_db)] == [500]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 0}, "input.amount"),
        ({"currency": "EUR"}, "input.currency"),
        ({"currency": "nope"}, "input.currency"),
        ({"reason": ""}, "input.reason"),
        ({"reason": "r" * 501}, "input.reason"),
        ({"key": "k" * 201}, "input.key"),
    ],
)
async def test_bad_partial_refund_input_is_bad_user_input(payments: PaymentsApi, overrides, field) -> None:
    given = await charged(payments)

    response = await payments.refund_partially(given["orderId"], **{"amount": 10, **overrides})

    assert response.error_codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == field


async def test_a_partial_refund_of_an_order_without_payment_is_not_found(payments: PaymentsApi) -> None:
    response = await payments.refund_partially("5f0c2a4e-1111-4c1e-9d2b-000000000000", 10)

    assert response.error_codes == ["NOT_FOUND"]


async def test_only_a_service_may_refund_partially(payments: PaymentsApi, token_of) -> None:
    given = await charged(payments)

    response = await payments.refund_partially(given["orderId"], 10, token=token_of("ADMIN"))

    assert response.error_codes == ["FORBIDDEN"]
