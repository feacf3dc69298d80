"""What the test stack was doing while a browser test waited on it: for a test whose page waited for an answer
that never came, a snapshot every few seconds of each server's event loop (its tasks, grouped by where they
wait, or the thread's stack when the loop does not answer), the worker's PostgreSQL sessions that are not idle
and the run's PgBouncer pools with waiting clients. The test prints the last one taken when it fails."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from shared.testing import ServerThread

ACTIVITY = """
SELECT datname, state, wait_event_type, wait_event,
       round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_seconds, left(query, 160) AS query
FROM pg_stat_activity
WHERE datname LIKE $1 AND state <> 'idle' AND pid <> pg_backend_pid()
ORDER BY xact_start
"""


def _awaiting(coroutine: Any) -> list[Any]:
    """The frames of a suspended coroutine and of what it awaits, down to the innermost (a task's own stack
    holds its outermost frame only)."""
    frames = []
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "ag_frame", None)
        frame = frame or getattr(coroutine, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)
    return frames


def _where(frames: list[Any]) -> str:
    """Where a task waits: its first frame, then its innermost four."""
    shown = frames if len(frames) <= 5 else [frames[0], *frames[-4:]]
    return " > ".join(f"{Path(f.f_code.co_filename).name}:{f.f_lineno} {f.f_code.co_name}" for f in shown)


async def _tasks() -> list[str]:
    current = asyncio.current_task()
    return [_where(_awaiting(task.get_coro())) for task in asyncio.all_tasks() if task is not current]


async def _server(server: ServerThread) -> list[str]:
    loop = server.loop
    if loop is None or not loop.is_running():
        return ["(not running)"]
    try:
        asked = asyncio.run_coroutine_threadsafe(_tasks(), loop)
        tasks = await asyncio.wait_for(asyncio.wrap_future(asked), 2)
    except TimeoutError:
        frame = sys._current_frames().get(server.thread.ident or 0)
        stack = traceback.format_stack(frame)[-6:] if frame is not None else []
        return ["LOOP BLOCKED for 2 s; its thread:", *(line.rstrip() for line in stack)]
    return [f"{count} x {where}" for where, count in Counter(tasks).most_common()]


async def _database_sessions() -> list[str]:
    url = make_url(os.environ["MYSHOP_POSTGRES_URL"]).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
    try:
        rows = await connection.fetch(ACTIVITY, os.environ["MYSHOP_DATABASE_PREFIX"] + "%")
    finally:
        await connection.close()
    return [" | ".join(str(value) for value in row.values()) for row in rows]


async def _bouncer_pools() -> list[str]:
    port, psql = os.environ.get("MYSHOP_TESTS_PGBOUNCER_PORT"), shutil.which("psql")
    if not port or psql is None:
        return []
    command = [psql, "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-At", "-F", " ", "pgbouncer"]
    process = await asyncio.create_subprocess_exec(
        *command, "-c", "SHOW POOLS", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 5)
    # database user cl_active cl_waiting ... sv_active ...: the pools someone waits in or works in
    pools = [line.split() for line in output.decode(errors="replace").splitlines()]
    return [" ".join(pool) for pool in pools if len(pool) > 6 and (pool[3] != "0" or pool[6] != "0")]


async def snapshot(servers: Mapping[str, ServerThread]) -> dict[str, Any]:
    taken: dict[str, Any] = {}
    names = list(servers)
    loops = await asyncio.gather(*(_server(servers[name]) for name in names))
    taken["servers"] = dict(zip(names, loops, strict=True))
    for key, probe in (("postgres", _database_sessions), ("pgbouncer", _bouncer_pools)):
        try:
            taken[key] = await probe()
        except Exception as exc:  # a report must not fail the report
            taken[key] = [f"{type(exc).__name__}: {exc}"]
    return taken


class StallWatch:
    """Snapshots every `every` seconds while a browser test runs; `latest` is the last one, taken at most
    `every` seconds before the page gave up."""

    def __init__(self, servers: Mapping[str, ServerThread], every: float = 5.0) -> None:
        self.servers, self.every = servers, every
        self.taken: list[dict[str, Any]] = []  # every snapshot, oldest first

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.taken[-1] if self.taken else None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            await asyncio.sleep(self.every)
            try:
                taken = await snapshot(self.servers)
            except Exception as exc:  # a server stopping under it: the report must not fail the test
                taken = {"error": f"{type(exc).__name__}: {exc}"}
            self.taken.append({"seconds": round(loop.time() - started, 1), **taken})

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[StallWatch]:
        task = asyncio.create_task(self._watch())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
