"""Who may do what: internal operations need a SERVICE token; a payment is seen by the customer who paid and
by staff, through `payment(id)`, `Order.payment` and `Payment` entity references (batched loaders)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from payments_api import Customer, PaymentsApi, charge_input, payment_rows
from sqlalchemy import Engine, event, pool
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from subgraphs.payments.loaders import PaymentLoaders

# --- internal operations ---


@pytest.mark.parametrize("role", ["CUSTOMER", "ADMIN", "PARTNER"])
async def test_a_charge_without_a_service_token_is_forbidden_and_charges_nothing(
    payments: PaymentsApi, payments_db, token_of, role
) -> None:
    calls_before = await payments.provider_calls("charge")

    response = await payments.charge(charge_input(), token=token_of(role))

    assert response.error_codes == ["FORBIDDEN"]
    assert await payment_rows(payments_db) == []
    assert await payments.provider_calls("charge") == calls_before


@pytest.mark.parametrize("role", ["CUSTOMER", "ADMIN", "PARTNER"])
async def test_a_refund_without_a_service_token_is_forbidden_and_changes_nothing(
    payments: PaymentsApi, payments_db, token_of, role
) -> None:
    given = charge_input()
    (await payments.charge(given)).ok()

    response = await payments.refund(given["key"], token=token_of(role))

    assert response.error_codes == ["FORBIDDEN"]
    assert [row["status"] for row in await payment_rows(payments_db)] == ["CAPTURED"]


async def test_anonymous_internal_operations_are_unauthenticated(payments: PaymentsApi, payments_db) -> None:
    charge = await payments.charge(charge_input(), token=None)
    refund = await payments.refund("order:x:charge", token=None)

    assert (charge.error_codes, refund.error_codes) == (["UNAUTHENTICATED"], ["UNAUTHENTICATED"])
    assert await payment_rows(payments_db) == []


# --- payment(id) ---


async def charge_for(payments: PaymentsApi, customer: Customer, **overrides) -> dict:
    given = charge_input(userId=customer.id, **overrides)
    return (await payments.charge(given)).ok()["chargePayment"]


async def test_the_customer_who_paid_reads_their_payment(payments: PaymentsApi, customer: Customer) -> None:
    charged = await charge_for(payments, customer)

    response = await payments.payment(charged["id"], token=customer.token)

    assert response.ok()["payment"] == charged


async def test_another_customer_is_forbidden_a_payment(
    payments: PaymentsApi, customer: Customer, other_customer: Customer
) -> None:
    charged = await charge_for(payments, customer)

    response = await payments.payment(charged["id"], token=other_customer.token)

    assert response.error_codes == ["FORBIDDEN"]
    assert response.data == {"payment": None}


@pytest.mark.parametrize("role", ["ADMIN", "PARTNER"])
async def test_staff_read_any_payment(payments: PaymentsApi, customer: Customer, token_of, role) -> None:
    charged = await charge_for(payments, customer)

    response = await payments.payment(charged["id"], token=token_of(role))

    assert response.ok()["payment"]["id"] == charged["id"]


async def test_an_anonymous_caller_must_sign_in_to_read_a_payment(
    payments: PaymentsApi, customer: Customer
) -> None:
    charged = await charge_for(payments, customer)

    response = await payments.payment(charged["id"], token=None)

    assert response.error_codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("payment_id", [str(uuid.uuid4()), "not-an-id"], ids=["unknown-uuid", "not-an-id"])
async def test_an_unknown_payment_is_null(payments: PaymentsApi, token_of, payment_id) -> None:
    response = await payments.payment(payment_id, token=token_of("ADMIN"))

    assert response.ok() == {"payment": None}


# --- Order.payment and Payment references (_entities) ---


async def test_the_customer_who_paid_reads_the_payment_of_their_order(
    payments: PaymentsApi, customer: Customer
) -> None:
    charged = await charge_for(payments, customer)

    response = await payments.order_payments([charged["order"]["id"]], token=customer.token)

    assert response.ok()["_entities"] == [
        {
            "id": charged["order"]["id"],
            "payment": {"id": charged["id"], "status": "CAPTURED", "amount": {"amount": 4599}},
        }
    ]


async def test_another_customer_is_forbidden_the_payment_of_an_order(
    payments: PaymentsApi, customer: Customer, other_customer: Customer
) -> None:
    charged = await charge_for(payments, customer)

    response = await payments.order_payments([charged["order"]["id"]], token=other_customer.token)

    assert response.error_codes == ["FORBIDDEN"]
    assert response.data["_entities"] == [{"id": charged["order"]["id"], "payment": None}]


@pytest.mark.parametrize("role", ["ADMIN", "PARTNER", "SERVICE"])
async def test_staff_read_the_payments_of_several_orders_in_order(
    payments: PaymentsApi, customer: Customer, other_customer: Customer, issuer, token_of, role
) -> None:
    first = await charge_for(payments, customer)
    second = await charge_for(payments, other_customer, method="tok_decline")
    unpaid = str(uuid.uuid4())
    token = issuer.issue_service_token("orders").token if role == "SERVICE" else token_of(role)

    response = await payments.order_payments(
        [second["order"]["id"], unpaid, first["order"]["id"]], token=token
    )

    assert [entity["payment"] and entity["payment"]["id"] for entity in response.ok()["_entities"]] == [
        second["id"],
        None,
        first["id"],
    ]


async def test_the_payment_of_an_order_prefers_the_charge_that_took_money(
    payments: PaymentsApi, customer: Customer, token_of
) -> None:
    order_id = str(uuid.uuid4())
    captured = await charge_for(payments, customer, orderId=order_id)
    await charge_for(payments, customer, orderId=order_id, method="tok_decline")

    response = await payments.order_payments([order_id], token=token_of("ADMIN"))

    assert response.ok()["_entities"][0]["payment"]["id"] == captured["id"]


async def test_an_anonymous_caller_must_sign_in_to_read_the_payment_of_an_order(
    payments: PaymentsApi, customer: Customer
) -> None:
    charged = await charge_for(payments, customer)

    response = await payments.order_payments([charged["order"]["id"]], token=None)

    assert response.error_codes == ["UNAUTHENTICATED"]


async def test_payment_references_resolve_for_the_owner_and_are_forbidden_to_others(
    payments: PaymentsApi, customer: Customer, other_customer: Customer
) -> None:
    mine = await charge_for(payments, customer)
    theirs = await charge_for(payments, other_customer)

    response = await payments.payment_entities([mine["id"], theirs["id"]], token=customer.token)

    assert response.error_codes == ["FORBIDDEN"]
    assert response.data["_entities"] == [
        {"id": mine["id"], "status": "CAPTURED", "order": {"id": mine["order"]["id"]}},
        None,
    ]


async def test_the_loaders_read_a_batch_of_orders_or_payments_with_one_query_each(
    payments: PaymentsApi, customer: Customer, databases: dict[str, str]
) -> None:
    charged = [await charge_for(payments, customer) for _ in range(3)]
    engine = create_async_engine(databases["payments"], poolclass=pool.NullPool)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    try:
        async with AsyncSession(engine) as session:
            loaders = PaymentLoaders(lambda: session)

            by_order = await asyncio.gather(
                *(loaders.payment_of_order.load(c["order"]["id"]) for c in charged)
            )
            by_id = await asyncio.gather(*(loaders.payment.load(c["id"]) for c in charged))
    finally:
        await engine.dispose()

    assert [str(p.id) for p in by_order] == [str(p.id) for p in by_id] == [c["id"] for c in charged]
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2


async def test_the_payments_of_a_page_of_orders_are_read_with_one_query(
    payments: PaymentsApi, customer: Customer
) -> None:
    # Given a customer's page of orders, each charged
    charged = [await charge_for(payments, customer) for _ in range(8)]
    statements: list[str] = []

    def seen(*args: object) -> None:
        if "DISTINCT ON (payments.order_id)" in str(args[2]):
            statements.append(str(args[2]))

    # When the router asks payments for their payments (the stack's servers run in this process)
    event.listen(Engine, "before_cursor_execute", seen)
    try:
        response = await payments.order_payments([c["order"]["id"] for c in charged], token=customer.token)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)

    # Then every order's payment comes from one statement: the per-field caller check splits no batch
    assert [e["payment"]["id"] for e in response.ok()["_entities"]] == [c["id"] for c in charged]
    assert len(statements) == 1
