"""The connection budget (shared.connection_budget): the arithmetic, the defaults that fit PostgreSQL's
default 100, and real starts refused with a line naming the arithmetic (a service process and `myshop up`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from myshop import devstack
from shared.connection_budget import (
    BudgetExceeded,
    ServerLimit,
    ServiceDemand,
    check_process,
    check_server,
    demand_of,
)
from subgraphs import registry
from subgraphs.analytics.settings import AnalyticsSettings

REPO = Path(__file__).resolve().parent.parent
POSTGRES_DEFAULT = ServerLimit(max_connections=100, superuser_reserved=3, reserve=10)


def test_eight_services_of_two_big_replicas_exceed_the_default_server_with_the_arithmetic_named() -> None:
    demands = [ServiceDemand(name, 2, 10, 10) for name in registry.SUBGRAPHS]

    with pytest.raises(BudgetExceeded) as refused:
        check_server(demands, POSTGRES_DEFAULT)

    assert str(refused.value).startswith(
        "connection budget exceeded: 8 services x 2 replicas x (10 pool + 10 overflow) = 320 > "
        "100 max_connections - 3 superuser_reserved - 10 reserve = 87; lower MYSHOP_DB_POOL_SIZE"
    )
    assert "MYSHOP_DB_PGBOUNCER=true" in str(refused.value)


def test_default_pools_fit_the_default_server_and_each_process_its_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MYSHOP_DB_POOL_SIZE")  # the suite's own small pools (tests/conftest.py)
    monkeypatch.delenv("MYSHOP_DB_MAX_OVERFLOW")
    demands = [demand_of(registry.load(name).settings_class()) for name in registry.SUBGRAPHS]

    check_server(demands, POSTGRES_DEFAULT)
    for demand in demands:
        check_process(demand, POSTGRES_DEFAULT, len(demands))
    assert sum(demand.total for demand in demands) == 80


def test_myshop_up_pools_leave_room_for_two_test_suites_on_the_default_server() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYSHOP_DB_")}
    env["MYSHOP_DB_CONNECTION_LIMIT"], env["MYSHOP_DB_RESERVE"] = "97", "0"  # 100 - 3 superuser_reserved
    peak_of_two_suites = 2 * 2 * 19  # two suites of two workers, ~19 connections each at peak (README)
    demands = []
    for name in registry.SUBGRAPHS:
        env_of_service = devstack.pool_env(name, env)
        demands.append(
            ServiceDemand(
                name,
                1,
                int(env_of_service["MYSHOP_DB_POOL_SIZE"]),
                int(env_of_service["MYSHOP_DB_MAX_OVERFLOW"]),
            )
        )

    stack = sum(demand.total for demand in demands)

    assert stack == 18
    assert stack + peak_of_two_suites <= 97


def test_analytics_reports_engine_counts_only_on_the_main_server() -> None:
    main = "postgresql+asyncpg://postgres@db:5432/myshop_analytics"
    same = AnalyticsSettings(database_url=main, read_database_url="postgresql+asyncpg://postgres@db/reports")
    replica = AnalyticsSettings(
        database_url=main, read_database_url="postgresql+asyncpg://postgres@replica/x"
    )

    assert demand_of(same).per_process == 2 * demand_of(replica).per_process
    assert "other engines" in demand_of(same).shape()


@pytest.fixture
async def server_limits() -> tuple[int, int]:
    """The test server's max_connections and superuser_reserved_connections."""
    engine = create_async_engine(os.environ["MYSHOP_POSTGRES_URL"])
    async with engine.connect() as conn:
        max_connections = int(await conn.scalar(text("SHOW max_connections")))
        reserved = int(await conn.scalar(text("SHOW superuser_reserved_connections")))
    await engine.dispose()
    return max_connections, reserved


def test_a_service_whose_pools_cannot_fit_exits_with_the_arithmetic(server_limits: tuple[int, int]) -> None:
    env = {
        **os.environ,
        "MYSHOP_DB_POOL_SIZE": "10",
        "MYSHOP_DB_MAX_OVERFLOW": "10",
        "MYSHOP_DB_REPLICAS": "2",
        # The server's own database: the check asks the server over the service's URL, no migration needed.
        "MYSHOP_PAYMENTS_DATABASE_URL": os.environ["MYSHOP_POSTGRES_URL"],
    }
    max_connections, reserved = server_limits
    budget = max_connections - reserved - 10
    share = budget // 8
    if 40 <= share:
        pytest.skip(f"the server allows {max_connections} connections: 2 x 20 fits its share")

    started = subprocess.run(
        [sys.executable, "-m", "myshop.cli", "serve", "payments"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert started.returncode == 1
    assert started.stderr.strip().splitlines()[-1] == (
        "payments: connection budget exceeded: payments: 2 replicas x (10 pool + 10 overflow) = 40 > "
        f"its share {budget} / 8 services on the server = {share} ({max_connections} max_connections - "
        f"{reserved} superuser_reserved - 10 reserve = {budget}); "
        "lower MYSHOP_DB_POOL_SIZE / MYSHOP_DB_MAX_OVERFLOW / MYSHOP_DB_REPLICAS, raise the "
        "server's max_connections, or run through PgBouncer (MYSHOP_DB_PGBOUNCER=true), or set "
        "MYSHOP_DB_SERVICES_ON_SERVER when fewer services share the server"
    )
    assert "Traceback" not in started.stderr


def test_myshop_up_whose_pools_cannot_fit_starts_nothing_and_names_the_arithmetic(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MYSHOP_DATA_DIR": str(tmp_path),
        "MYSHOP_DB_CONNECTION_LIMIT": "30",
        "MYSHOP_DB_POOL_SIZE": "2",
        "MYSHOP_DB_MAX_OVERFLOW": "2",
    }

    up = subprocess.run(
        [sys.executable, "-m", "myshop.cli", "up", "--no-seed", "--no-embedded", "--no-mail-sink"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )

    assert up.returncode == 1
    output = " ".join((up.stdout + up.stderr).split())
    assert (
        "connection budget exceeded: 8 services x 1 replica x (2 pool + 2 overflow) = 32 > "
        "30 MYSHOP_DB_CONNECTION_LIMIT - 10 reserve = 20"
    ) in output
    assert "migrated" not in output and not (tmp_path / "logs").exists()
