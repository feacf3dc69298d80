"""`myshop migrate SERVICE...`, what each migration Job runs (deploy/kubernetes/migrations): creates the
service's database when missing, upgrades it to head, does nothing more the second time, and fails with one
line naming the service, the database and the reason when PostgreSQL cannot be reached."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from myshop import migrations
from myshop.cli import app
from subgraphs import registry


@pytest.fixture
def prefix(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database prefix of this test's own; its databases are dropped afterwards."""
    prefix = f"myshop_k8s{uuid.uuid4().hex[:6]}_"
    monkeypatch.setenv("MYSHOP_DATABASE_PREFIX", prefix)
    yield prefix
    settings = registry.load("payments").settings_class()
    asyncio.run(migrations.drop_database(settings.postgres_url, f"{prefix}payments"))


def head_of(url: str) -> str | None:
    async def read() -> str | None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.scalar(text("SELECT version_num FROM alembic_version"))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_migrate_creates_the_database_and_upgrades_it_once(prefix: str) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["migrate", "payments"])
    assert first.exit_code == 0, first.output
    assert f"created database {prefix}payments" in first.output
    assert "payments: at head" in first.output

    settings = registry.load("payments").settings_class()
    revision = head_of(settings.effective_database_url)
    assert revision is not None

    again = runner.invoke(app, ["migrate", "payments"])  # a Job retried, or the next release's
    assert again.exit_code == 0, again.output
    assert "created database" not in again.output
    assert head_of(settings.effective_database_url) == revision


def test_migrate_without_postgresql_says_why_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYSHOP_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/postgres")
    result = CliRunner().invoke(app, ["migrate", "payments"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("payments: cannot migrate myshop_")
    assert "127.0.0.1:1" in lines[0] and "Connect call failed" in lines[0]


def test_migrate_refuses_an_unknown_service() -> None:
    result = CliRunner().invoke(app, ["migrate", "payment"])
    assert result.exit_code == 2
    assert "unknown service(s) payment" in result.output
