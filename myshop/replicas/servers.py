"""The replica harness's own PostgreSQL and Redis: Debian's binaries on free loopback ports, data in the run's
directory, each a direct child process, so the chaos run can kill and restart them without touching the
machine's servers (which the test suite's other worker keeps using).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from myshop.devstack import die_with_parent


class ServerError(RuntimeError):
    """A server could not be set up or started (the message says which and why)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def _as_postgres() -> dict[str, str]:
    """PostgreSQL refuses to run as root: when we are root, its processes run as the `postgres` user."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def postgres_bindir() -> Path:
    """Where initdb and postgres are: `pg_config --bindir`, else the newest /usr/lib/postgresql/<v>/bin."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], check=True, capture_output=True, text=True).stdout
        candidates.append(Path(out.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    for bindir in [*candidates, *versions]:
        if (bindir / "initdb").exists() and (bindir / "postgres").exists():
            return bindir
    raise ServerError("no PostgreSQL server binaries (initdb): install Debian's postgresql")


@dataclass
class Postgres:
    """A PostgreSQL cluster of its own: `initdb` once, then started, crashed (SIGQUIT: an immediate shutdown,
    recovery on the next start) and started again on the same port and data directory."""

    directory: Path
    max_connections: int = 200
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    # As root, the cluster runs as `postgres`, which may not enter the run's directory (pytest's are 0700):
    # its data then goes to a directory of its own under the system's temp dir, removed when it stops.
    data_root: Path | None = None

    @property
    def data(self) -> Path:
        return (self.data_root or self.directory) / "pgdata"

    def init(self) -> None:
        bindir = postgres_bindir()
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self.data_root = Path(tempfile.mkdtemp(prefix="myshop-replicas-pg-"))
            self.data_root.chmod(0o755)
        self.data.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
        command = [
            str(bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ]
        done = subprocess.run([*command, "--no-sync"], capture_output=True, text=True, **_as_postgres())
        if done.returncode != 0:
            raise ServerError(f"initdb failed: {done.stderr.strip().splitlines()[-1:]}")

    def start(self, *, timeout: float = 30.0) -> None:
        command = [
            str(postgres_bindir() / "postgres"),
            "-D", str(self.data), "-p", str(self.port), "-k", str(self.data),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"max_connections={self.max_connections}",
            # A crash of the server process (not of the machine) loses no committed transaction without fsync.
            "-c", "fsync=off", "-c", "full_page_writes=off",
        ]  # fmt: skip
        with (self.directory / "postgres.log").open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,  # a harness killed with SIGKILL leaves no server behind
                **_as_postgres(),
            )
        try:
            wait_port(self.port, timeout=timeout, process=self.process)
        except ServerError as exc:
            raise ServerError(
                f"PostgreSQL on port {self.port} {exc}; see {self.directory / 'postgres.log'}"
            ) from None

    def crash(self) -> None:
        """An immediate shutdown (every backend gone at once, no checkpoint), as a crash would leave it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            self.process.wait(30)

    def restart(self) -> None:
        self.crash()
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.data_root is not None:
            shutil.rmtree(self.data_root, ignore_errors=True)


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
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
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
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
