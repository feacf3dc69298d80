"""Replicas of every subgraph and of the router on one machine, behind HAProxy, over a PostgreSQL and a Redis
of their own: what `myshop replicas` runs and the chaos run kills pieces of.

Every service's address (`MYSHOP_<SERVICE>_PORT`, the peers' URLs, the JWKS) is its HAProxy door; each replica
listens on a port of its own behind it. Processes are started from the event loop's thread (they get SIGTERM
when the thread that started them ends: `devstack.die_with_parent`) and awaited ready concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from myshop import devstack
from myshop.replicas import haproxy
from myshop.servers import Postgres, RedisServer, free_port
from shared.auth import KeyRing, TokenIssuer
from shared.auth.keys import generate_key_file
from shared.settings import ServiceSettings
from subgraphs import registry

ROOT = Path(__file__).resolve().parent.parent.parent
ROUTER = "router"
# Timings for a run that kills processes: a dead replica's sagas and pending events are taken over within
# seconds, not the production defaults' minute.
CHAOS_TIMINGS = {
    "MYSHOP_ORDERS_SAGA_LEASE_SECONDS": "3",
    "MYSHOP_ORDERS_RECOVERY_INTERVAL_SECONDS": "0.5",
    "MYSHOP_ORDERS_STEP_TIMEOUT_SECONDS": "10",
    "MYSHOP_ORDERS_RETRY_MAX_SECONDS": "0.5",
    "MYSHOP_CONSUMER_CLAIM_IDLE_SECONDS": "3",
}


@dataclass
class Replica:
    service: str  # a subgraph's name or "router"
    index: int
    port: int
    process: devstack.ServiceProcess | None = None
    # When it last answered ready (monotonic), None while it is down or starting.
    ready_since: float | None = None

    @property
    def label(self) -> str:
        return f"{self.service}-{self.index}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.process.poll() is None


@dataclass
class Cluster:
    """`replicas` of every subgraph and router behind HAProxy; `async with Cluster(dir) as cluster:`."""

    directory: Path
    replicas: int = 2
    # Per process: 16 subgraph processes x (2 + 4) stay under the own server's 200 connections with room for
    # the checks, migrations and a restart's reconnecting pools.
    pool_size: int = 2
    max_overflow: int = 4
    log: Callable[[str], None] = print
    names: tuple[str, ...] = registry.SUBGRAPHS
    # Priority of every process started (`nice`): a test run lets the suite's other worker go first.
    niceness: int = 0
    postgres: Postgres = field(init=False)
    redis: RedisServer = field(init=False)
    doors: dict[str, int] = field(default_factory=dict)
    processes: list[Replica] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    issuer: TokenIssuer | None = None
    _haproxy: subprocess.Popen[bytes] | None = None
    _sink: Any = None

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.postgres = Postgres(self.directory / "postgres", max_connections=200)
        self.redis = RedisServer(self.directory / "redis")

    # --- addresses ---------------------------------------------------------------------------------------

    @property
    def router_url(self) -> str:
        return f"http://127.0.0.1:{self.doors[ROUTER]}/graphql"

    def door_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.doors[service]}/graphql"

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    def token(self, user_id: str, roles: list[str]) -> str:
        assert self.issuer is not None
        return self.issuer.issue(user_id, roles).token

    # --- start and stop ----------------------------------------------------------------------------------

    async def __aenter__(self) -> Cluster:
        try:
            await self.start()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.stop()

    async def start(self) -> None:
        started = time.monotonic()
        self.postgres.start()
        self.redis.start()
        for server in (self.postgres.process, self.redis.process):
            assert server is not None
            self._lower_priority(server.pid)
        self.log(f"PostgreSQL on {self.postgres.port}, Redis on {self.redis.port} ({self.directory})")
        for name in (*self.names, ROUTER):
            self.doors[name] = free_port()
            for index in range(self.replicas):
                self.processes.append(Replica(name, index, free_port()))
        self.env = self._environment()
        with devstack.environment(self.env):
            common = ServiceSettings()
            generate_key_file(common.keys_dir)  # before users starts: every replica signs with this key
            keys = KeyRing.load(
                private_key_pem=None, keys_dir=common.keys_dir, retired_public_pem=None, create=False
            )
            self.issuer = TokenIssuer(
                keys, issuer=common.jwt_issuer, audience=common.jwt_audience, ttl_seconds=3600
            )
            await devstack.migrate(list(self.names), log=lambda _line: None)
            self.env.update(devstack.peer_env(list(self.names)))
        self._start_mail_sink()
        self.log(f"migrated in {time.monotonic() - started:.1f} s")
        doors = [
            haproxy.Door(name, port, tuple(r.port for r in self.processes if r.service == name))
            for name, port in self.doors.items()
        ]
        self._haproxy = haproxy.start(doors, self.directory / "haproxy", preexec=devstack.die_with_parent)
        self._lower_priority(self._haproxy.pid)
        subgraphs = [r for r in self.processes if r.service != ROUTER]
        for replica in subgraphs:
            self.spawn(replica)
        await asyncio.gather(*(self.ready(r) for r in subgraphs))
        routers = [r for r in self.processes if r.service == ROUTER]
        for replica in routers:
            self.spawn(replica)
        await asyncio.gather(*(self.ready(r) for r in routers))
        await self.door_ready(ROUTER)
        self.log(f"{len(self.processes)} processes ready in {time.monotonic() - started:.1f} s")

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in list(env):  # nothing of the caller's run (a test worker's databases, ports) leaks in
            if name.startswith("MYSHOP_"):
                del env[name]
        env.update(CHAOS_TIMINGS)
        env.update(
            {
                "MYSHOP_ENV": "development",
                "MYSHOP_DATA_DIR": str(self.directory / "data"),
                "MYSHOP_POSTGRES_URL": self.postgres.url,
                "MYSHOP_REDIS_URL": self.redis.url,
                "MYSHOP_LOG_LEVEL": "WARNING",
                "MYSHOP_DB_POOL_SIZE": str(self.pool_size),
                "MYSHOP_DB_MAX_OVERFLOW": str(self.max_overflow),
                # Each process checks its service's replicas x pools against its share of the server at start.
                "MYSHOP_DB_REPLICAS": str(self.replicas),
                "MYSHOP_NOTIFICATIONS_SMTP_PORT": str(free_port()),
            }
        )
        # Each service's address is its door; a replica's own port is set when it is started.
        env.update({f"MYSHOP_{name.upper()}_PORT": str(port) for name, port in self.doors.items()})
        return env

    def _start_mail_sink(self) -> None:
        from myshop.smtp_sink import start_smtp_sink

        port = int(self.env["MYSHOP_NOTIFICATIONS_SMTP_PORT"])
        self._sink = start_smtp_sink(
            self.directory / "data", host="127.0.0.1", port=port, log=lambda _l: None
        )

    def spawn(self, replica: Replica) -> None:
        if replica.service == ROUTER:
            urls = {name: self.door_url(name) for name in self.names}
            supergraph = ROOT / "schema" / "supergraph.graphql"
            replica.process = devstack.start_router(
                supergraph, urls, self.logs, self.env, port=replica.port, label=replica.label
            )
        else:
            replica.process = devstack.start_service(
                replica.service, self.logs, self.env, port=replica.port, label=replica.label
            )
        self._lower_priority(replica.process.process.pid)

    def _lower_priority(self, pid: int) -> None:
        if self.niceness:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, self.niceness)

    async def ready(self, replica: Replica, *, within: float = 90.0) -> float:
        """Seconds until the replica's `/health/ready` answers 200; raises when it dies or time runs out."""
        started = time.monotonic()
        last = "no answer"
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() - started < within:
                if not replica.alive:
                    code = replica.process.process.returncode if replica.process else None
                    tail = devstack.tail(replica.process.log_path) if replica.process else ""
                    raise RuntimeError(f"{replica.label} exited ({code}); its log:\n{tail}")
                try:
                    answer = await client.get(f"{replica.url}/health/ready")
                    if answer.status_code == 200:
                        replica.ready_since = time.monotonic()
                        return time.monotonic() - started
                    last = answer.text[:300]
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{replica.label} not ready after {within:.0f} s: {last}")

    async def door_ready(self, service: str, *, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    url = self.door_url(service).removesuffix("/graphql") + "/health/ready"
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{service}'s door (HAProxy) not ready after {within:.0f} s")

    def kill(self, replica: Replica) -> None:
        """SIGKILL: no drain, no goodbye, what a crash or an OOM kill does."""
        replica.ready_since = None
        if replica.process is not None and replica.alive:
            replica.process.process.kill()
            replica.process.process.wait(10)

    def stop(self) -> None:
        devstack.stop_services([r.process for r in self.processes if r.process is not None], grace=5.0)
        if self._haproxy is not None and self._haproxy.poll() is None:
            self._haproxy.terminate()
            self._haproxy.wait(5)
        if self._sink is not None:
            self._sink.stop()
            self._sink = None
        self.redis.stop()
        self.postgres.close()
