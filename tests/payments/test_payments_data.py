"""The payments migrations match the models and undo cleanly; the database refuses rows the rules forbid."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import pool, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from shared import migrations
from subgraphs.payments.models import Base
from subgraphs.payments.settings import PaymentsSettings


async def tables_of(url: str) -> set[str]:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            return set(rows.scalars())
    finally:
        await engine.dispose()


@pytest.fixture
async def scratch_database() -> AsyncIterator[str]:
    """An empty database of this test's own (the run's prefix keeps it apart from other runs)."""
    settings = PaymentsSettings()
    name = f"{settings.database_name}_migrations"
    await migrations.drop_database(settings.postgres_url, name)
    await migrations.ensure_database(settings.postgres_url, name)
    yield settings.database_url_on_server(name)
    await migrations.drop_database(settings.postgres_url, name)


async def test_the_migrations_match_the_models(databases: dict[str, str]) -> None:
    assert await migrations.model_drift(databases["payments"], Base.metadata) == []


async def test_upgrade_from_empty_then_downgrade_to_base_leaves_no_tables(scratch_database: str) -> None:
    await migrations.upgrade_async("payments", scratch_database)
    assert await tables_of(scratch_database) == {"payments", "outbox", "alembic_version"}

    await migrations.downgrade_async("payments", scratch_database)

    assert await tables_of(scratch_database) == {"alembic_version"}


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
