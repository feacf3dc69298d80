"""Support for tests and benchmarks: a real uvicorn server on a loopback port, and a scratch database."""

from __future__ import annotations

import asyncio
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
        # The server's event loop once it runs (a test's report of what a stalled server was doing reads it).
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve(sockets=[self.socket])

        with asyncio.Runner(loop_factory=self.server.config.get_loop_factory()) as runner:
            runner.run(serve())

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


class ScratchServer:
    """The run's database server, made cheaper for scratch databases (both off until `use` names it):

    - a scratch database at the head of a history is a copy of a template migrated once (`CREATE DATABASE ...
      TEMPLATE`), not migrated again: 0.3-0.7 s a database, over a hundred times a run;
    - a finished scratch database is closed (its connections ended, no new ones allowed) and dropped at the
      end of the run: every `DROP DATABASE` forces a checkpoint of the whole server (PostgreSQL 15), 0.3-3 s
      of a test's teardown on a busy one, where the drops at the end find little left to write.
    """

    def __init__(self) -> None:
        self.server_url: str | None = None
        self.templates: dict[Path, str] = {}
        self.finished: list[str] = []

    def use(self, server_url: str) -> None:
        self.server_url = server_url

    async def template_for(self, history: Path, server_url: str) -> str | None:
        """The template database at the head of `history` on `server_url`, made on first use; None when
        that server is not the one in `use`."""
        if server_url != self.server_url:
            return None
        if history not in self.templates:
            name = f"myshop_scratch_{uuid.uuid4().hex[:8]}_template"
            await migrations.ensure_database(server_url, name)
            try:
                await migrations.upgrade_async(history, _database_url(server_url, name))
                # Nothing connects to a template again (a copy waits for its connections to end): not even
                # autovacuum, which skips a database that allows no connections.
                await _maintenance(server_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            except BaseException:
                await migrations.drop_database(server_url, name)
                raise
            if history in self.templates:  # another task made one meanwhile
                await migrations.drop_database(server_url, name)
            else:
                self.templates[history] = name
        return self.templates[history]

    async def finish(self, server_url: str, name: str) -> None:
        """Done with scratch database `name`: closed now and dropped at the end of the run, or dropped now
        when its server is not the one in `use`."""
        if server_url != self.server_url:
            await migrations.drop_database(server_url, name)
            return
        await _maintenance(
            server_url,
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
        )
        self.finished.append(name)

    async def drop(self) -> None:
        """Drops the finished scratch databases and the templates; off from then on."""
        server_url, names = self.server_url, [*self.finished, *self.templates.values()]
        self.server_url, self.templates, self.finished = None, {}, []
        if server_url is None:
            return
        # A few at once: concurrent drops share the server's checkpoints.
        for start in range(0, len(names), 8):
            batch = names[start : start + 8]
            await asyncio.gather(*(migrations.drop_database(server_url, name) for name in batch))


SCRATCH = ScratchServer()


def _database_url(server_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def _maintenance(server_url: str, *statements: str) -> None:
    from sqlalchemy import pool, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(
        make_url(server_url).set(database="postgres"), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def scratch_database(label: str, server_url: str, *, history: Path | None = None) -> AsyncIterator[str]:
    """A database of its own named after `label`, at the head of the migration `history` when one is given,
    dropped on exit (closed on exit and dropped after the run on the `SCRATCH` server); yields its URL."""
    name = f"myshop_scratch_{uuid.uuid4().hex[:8]}_{label}"
    template = await SCRATCH.template_for(history, server_url) if history is not None else None
    if template is not None:
        await _maintenance(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    else:
        await migrations.ensure_database(server_url, name)
    # Per-database settings are not copied from a template: set for the copy too.
    await without_durable_commits(server_url, name)
    url = _database_url(server_url, name)
    try:
        if history is not None and template is None:
            await migrations.upgrade_async(history, url)
        yield url
    finally:
        await SCRATCH.finish(server_url, name)


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
