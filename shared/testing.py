"""Support for tests and benchmarks: a real uvicorn server on a loopback port, and a scratch database."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn

from shared import migrations
from shared.keepalive import SERVER_KEEP_ALIVE_SECONDS


class ServerThread:
    """A real uvicorn server on a loopback port, in a thread with its own event loop."""

    def __init__(self, app: Any, port: int = 0) -> None:
        """`port` 0 picks a free one; a given port lets a stopped server come back at the same URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
            ws_per_message_deflate=False,  # as `shared.app.serve` runs the services
            # A test's server stops within 0.3 s even with requests in flight (a hanging stand-in, an open
            # stream): they are cancelled, as a killed process's would be.
            timeout_graceful_shutdown=0.3,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.started:
                return self
            if not self.thread.is_alive():
                raise RuntimeError("server thread died during startup")
            time.sleep(0.01)
        raise RuntimeError(f"server did not start in {timeout} s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


async def without_durable_commits(server_url: str, database: str) -> None:
    """A test database need not outlive a crash of its server: its commits stop waiting for the WAL to reach
    the disk (`synchronous_commit = off`, 2 ms → 0.2 ms a commit here), for every connection opened after."""
    from sqlalchemy import pool, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(
        make_url(server_url).set(database="postgres"), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'ALTER DATABASE "{database}" SET synchronous_commit = off'))
    finally:
        await engine.dispose()


@asynccontextmanager
async def scratch_database(label: str, server_url: str, *, history: Path | None = None) -> AsyncIterator[str]:
    """A database of its own named after `label`, at the head of the migration `history` when one is given,
    dropped on exit; yields its URL."""
    from sqlalchemy.engine import make_url

    name = f"myshop_scratch_{uuid.uuid4().hex[:8]}_{label}"
    await migrations.ensure_database(server_url, name)
    await without_durable_commits(server_url, name)
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        if history is not None:
            await migrations.upgrade_async(history, url)
        yield url
    finally:
        await migrations.drop_database(server_url, name)


async def emptied_tables(url: str, table_names: list[str]) -> None:
    """Empties the tables and restarts their identities: a scratch database kept for a module's tests looks
    new to each test (a database of its own per test cost 1-2 s of setup and teardown in a whole run)."""
    from sqlalchemy import pool, text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as conn:
            names = ", ".join(f'"{name}"' for name in table_names)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
