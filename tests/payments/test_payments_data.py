"""The payments database refuses rows the rules forbid (migrations: tests/test_migrations.py)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

_INSERT = (
    "INSERT INTO payments (key, order_id, user_id, amount, currency, method, status, refunded_at) "
    "VALUES (:key, :order_id, :user_id, :amount, 'USD', :method, :status, :refunded_at)"
)
_VALID = {
    "order_id": uuid.uuid4(),
    "user_id": uuid.uuid4(),
    "amount": 100,
    "method": "tok_approve",
    "status": "CAPTURED",
    "refunded_at": None,
}


@pytest.mark.parametrize(
    "change",
    [
        {"order_id": None},  # only a VOIDED tombstone may lack the charge's details
        {"amount": 0},
        {"amount": 2**53},
        {"status": "LOST"},
        {"status": "REFUNDED"},  # without refunded_at
    ],
)
async def test_the_database_refuses_a_payment_breaking_the_rules(payments_db, change) -> None:
    async with payments_db() as session:
        with pytest.raises(IntegrityError):
            await session.execute(text(_INSERT), {**_VALID, "key": str(uuid.uuid4()), **change})


async def test_the_database_takes_a_voided_tombstone_without_charge_details(payments_db) -> None:
    async with payments_db.begin() as session:
        await session.execute(
            text(_INSERT),
            {**_VALID, "key": "k", "order_id": None, "user_id": None, "amount": None, "status": "VOIDED"},
        )

    async with payments_db() as session:
        assert await session.scalar(text("SELECT status FROM payments WHERE key = 'k'")) == "VOIDED"
