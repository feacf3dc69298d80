"""refundPayment: once per capture, retried through transient failures, voiding keys never charged, and
waiting for a charge still in flight."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from eventually import eventually
from payments_api import PAYMENT_FIELDS, PaymentsApi, charge_input, outbox_events, payment_rows
from redis.asyncio import Redis


async def wait_for_provider_charge(redis: Redis, key: str) -> None:
    """Until the sandbox has seen the charge of `key` (its row is inserted by then, uncommitted)."""
    name = f"{os.environ['MYSHOP_REDIS_PREFIX']}payments:sandbox:charge:{key}"
    await eventually(lambda: redis.get(name), lambda v: v is not None, within=5, every=0.02, what=name)


async def test_a_refund_gives_a_capture_back(payments: PaymentsApi, payments_db) -> None:
    given = charge_input()
    charged = (await payments.charge(given)).ok()["chargePayment"]
    calls_before = await payments.provider_calls("refund")

    refunded = (await payments.refund(given["key"], "customer cancelled")).ok()["refundPayment"]

    assert (refunded["id"], refunded["status"]) == (charged["id"], "REFUNDED")
    assert refunded["refundedAt"] is not None
    assert await payments.provider_calls("refund") == calls_before + 1
    [row] = await payment_rows(payments_db)
    assert (row["status"], row["refund_reason"]) == ("REFUNDED", "customer cancelled")
    assert row["refund_reference"]


async def test_a_second_refund_returns_the_refunded_payment_without_refunding_again(
    payments: PaymentsApi,
) -> None:
    given = charge_input()
    (await payments.charge(given)).ok()
    first = (await payments.refund(given["key"])).ok()["refundPayment"]
    calls_before = await payments.provider_calls("refund")

    second = (await payments.refund(given["key"])).ok()["refundPayment"]

    assert second == first
    assert await payments.provider_calls("refund") == calls_before


async def test_concurrent_refunds_of_one_capture_refund_it_once(payments: PaymentsApi, payments_db) -> None:
    given = charge_input()
    (await payments.charge(given)).ok()
    calls_before = await payments.provider_calls("refund")

    responses = await asyncio.gather(*(payments.refund(given["key"]) for _ in range(4)))

    assert {response.ok()["refundPayment"]["status"] for response in responses} == {"REFUNDED"}
    assert await payments.provider_calls("refund") == calls_before + 1
    assert [event["event_type"] for event in await outbox_events(payments_db)] == [
        "PaymentProcessed",
        "PaymentRefunded",
    ]


async def test_a_refund_writes_payment_refunded_with_its_reason(payments: PaymentsApi, payments_db) -> None:
    given = charge_input()
    charged = (await payments.charge(given)).ok()["chargePayment"]

    (await payments.refund(given["key"], "customer cancelled")).ok()

    events = await outbox_events(payments_db)
    refund_id = events[-1]["payload"].pop("refundId")
    assert refund_id
    assert events[-1] == {
        "event_type": "PaymentRefunded",
        "aggregate_id": charged["id"],
        "payload": {
            "paymentId": charged["id"],
            "orderId": given["orderId"],
            "userId": given["userId"],
            "amount": 4599,
            "currency": "USD",
            "reason": "customer cancelled",
            "refundedTotal": 4599,
            "partial": False,
        },
    }


async def test_a_failed_refund_attempt_is_retryable_and_the_retry_refunds(
    payments: PaymentsApi, payments_db
) -> None:
    given = charge_input(method="tok_refund_flaky")
    (await payments.charge(given)).ok()

    failed = await payments.refund(given["key"])

    assert failed.error_codes == ["PAYMENT_PROVIDER_UNAVAILABLE"]
    assert failed.errors[0]["extensions"]["retryable"] is True
    assert [row["status"] for row in await payment_rows(payments_db)] == ["CAPTURED"]

    retried = (await payments.refund(given["key"])).ok()["refundPayment"]

    assert retried["status"] == "REFUNDED"
    assert [row["status"] for row in await payment_rows(payments_db)] == ["REFUNDED"]


async def test_a_refund_of_a_declined_payment_returns_it_as_it_is(payments: PaymentsApi) -> None:
    given = charge_input(method="tok_decline")
    declined = (await payments.charge(given)).ok()["chargePayment"]
    calls_before = await payments.provider_calls("refund")

    response = (await payments.refund(given["key"])).ok()["refundPayment"]

    assert (response["id"], response["status"], response["refundedAt"]) == (declined["id"], "DECLINED", None)
    assert await payments.provider_calls("refund") == calls_before


async def test_a_refund_of_an_unknown_key_voids_it_without_calling_the_provider(
    payments: PaymentsApi, payments_db
) -> None:
    calls_before = await payments.provider_calls("refund")

    voided = (await payments.refund("order:gone:charge", "payment timed out")).ok()["refundPayment"]

    assert (voided["status"], voided["failureReason"], voided["refundedAt"]) == (
        "VOIDED",
        "payment timed out",
        None,
    )
    assert [(row["key"], row["status"]) for row in await payment_rows(payments_db)] == [
        ("order:gone:charge", "VOIDED")
    ]
    assert await payments.provider_calls("refund") == calls_before
    assert await outbox_events(payments_db) == []


async def test_a_late_charge_of_a_voided_key_returns_voided_and_charges_nothing(
    payments: PaymentsApi, payments_db
) -> None:
    given = charge_input()
    voided = (await payments.refund(given["key"], "payment timed out")).ok()["refundPayment"]
    calls_before = await payments.provider_calls("charge")

    late = (await payments.charge(given)).ok()["chargePayment"]

    assert (late["id"], late["status"]) == (voided["id"], "VOIDED")
    # What the refused charge was is recorded; nothing was taken.
    assert (late["order"], late["amount"]) == ({"id": given["orderId"]}, {"amount": 4599, "currency": "USD"})
    assert await payments.provider_calls("charge") == calls_before
    assert [row["status"] for row in await payment_rows(payments_db)] == ["VOIDED"]
    assert await outbox_events(payments_db) == []


async def test_a_voided_key_no_charge_claimed_is_no_readable_payment(payments: PaymentsApi, token_of) -> None:
    voided = (await payments.refund("order:gone:charge", "payment timed out")).ok()["refundPayment"]

    response = await payments.payment(voided["id"], token=token_of("ADMIN"))

    assert response.ok() == {"payment": None}


async def test_a_refund_sent_while_the_charge_hangs_waits_for_it_and_refunds_what_it_took(
    slow_payments: PaymentsApi, payments_db, redis: Redis
) -> None:
    # Given a charge whose provider hangs (the saga has given up waiting for it)
    given = charge_input(method="tok_timeout")
    charging = asyncio.create_task(slow_payments.charge(given))
    await wait_for_provider_charge(redis, given["key"])
    assert not charging.done()

    # When the saga compensates with a refund of that key
    refunded = (await slow_payments.refund(given["key"], "payment timed out")).ok()["refundPayment"]

    # Then the refund waited for the charge and gave back what it captured
    charged = (await charging).ok()["chargePayment"]
    assert charged["status"] == "CAPTURED"
    assert (refunded["id"], refunded["status"]) == (charged["id"], "REFUNDED")
    assert [row["status"] for row in await payment_rows(payments_db)] == ["REFUNDED"]
    assert [event["event_type"] for event in await outbox_events(payments_db)] == [
        "PaymentProcessed",
        "PaymentRefunded",
    ]


async def test_a_charge_sent_after_its_refund_voided_the_key_charges_nothing_even_when_slow(
    slow_payments: PaymentsApi,
) -> None:
    given = charge_input(method="tok_timeout")
    (await slow_payments.refund(given["key"], "payment timed out")).ok()
    started = time.monotonic()

    late = (await slow_payments.charge(given)).ok()["chargePayment"]

    assert late["status"] == "VOIDED"
    assert time.monotonic() - started < 1.0  # the provider (which hangs 1.5 s) was never called


@pytest.mark.parametrize(
    ("key", "reason", "field"),
    [
        ("", "cancelled", "key"),
        ("k" * 201, "cancelled", "key"),
        ("k", "", "reason"),
        ("k", "r" * 501, "reason"),
    ],
)
async def test_bad_refund_input_is_bad_user_input_and_stores_nothing(
    payments: PaymentsApi, payments_db, key, reason, field
) -> None:
    response = await payments.refund(key, reason)

    assert response.error_codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == field
    assert await payment_rows(payments_db) == []


async def test_a_payment_voided_before_any_charge_reads_as_no_order_and_no_amount(
    payments: PaymentsApi, payments_db
) -> None:
    # All fields selected: none may fail, or the refund (and its tombstone) would roll back.
    response = await payments.gql(
        "payments",
        f'mutation {{ refundPayment(key: "order:gone:charge", reason: "timed out") {{ {PAYMENT_FIELDS} }} }}',
        token=payments.service_token,
    )

    voided = response.ok()["refundPayment"]
    assert (voided["order"], voided["amount"], voided["method"]) == (
        {"id": "00000000-0000-0000-0000-000000000000"},
        {"amount": 0, "currency": "XXX"},
        "",
    )
    assert [row["status"] for row in await payment_rows(payments_db)] == ["VOIDED"]
