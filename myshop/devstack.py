"""What `myshop up` does: infrastructure, migrations, demo data, one process per service, a clean stop.

Each service runs as its own process (`myshop serve <name>`), logging to `<data_dir>/logs/<name>.log`; the
router (`myshop router`) starts last, over the committed supergraph and the subgraph URLs of this run.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from myshop import demo, migrations
from router.config import RouterConfig
from shared import connection_budget
from shared.db import create_engine, create_sessionmaker
from shared.settings import ServiceSettings
from subgraphs import registry


@dataclass
class ServiceProcess:
    name: str
    settings: ServiceSettings | RouterConfig
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"


def service_settings(name: str) -> ServiceSettings:
    return registry.load(name).settings_class()


async def migrate(names: list[str], *, log: Callable[[str], None]) -> None:
    for name in names:
        settings = service_settings(name)
        if await migrations.ensure_database(settings.postgres_url, settings.database_name):
            log(f"created database {settings.database_name}")
        await migrations.upgrade_async(name, settings.effective_database_url)
        log(f"{name}: migrated to head")


async def seed(names: list[str], *, log: Callable[[str], None]) -> None:
    for name in names:
        load = demo.seed_of(name)
        if load is None:
            continue
        settings = service_settings(name)
        engine = create_engine(
            settings.effective_database_url,
            pool_size=1,
            max_overflow=0,
            application_name=f"{name}-seed",
            pgbouncer=settings.db_pgbouncer,
        )
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                lines = await load(session)
        finally:
            await engine.dispose()
        for line in lines or []:
            log(line if line.startswith(f"{name}:") else f"{name}: {line}")


# `myshop up`'s pools (pool, overflow) where MYSHOP_DB_POOL_SIZE / MYSHOP_DB_MAX_OVERFLOW are not set: small,
# so the stack and two test suites (2 workers, ~19 connections each at peak) share PostgreSQL's default 100:
# 7 services x (1 + 1) + orders (1 + 3: its saga, recovery and relay use sessions beside the request's) = 18;
# 18 + 4 x 19 = 94 <= 100 - 3 superuser_reserved. README "Connection budget".
UP_POOLS: dict[str, tuple[int, int]] = {"orders": (1, 3)}
UP_POOL_DEFAULT = (1, 1)


def pool_env(name: str, env: dict[str, str]) -> dict[str, str]:
    """`env` with `myshop up`'s pool sizes for service `name`, unless the environment chose its own."""
    if "MYSHOP_DB_POOL_SIZE" in env or "MYSHOP_DB_MAX_OVERFLOW" in env:
        return env
    pool, overflow = UP_POOLS.get(name, UP_POOL_DEFAULT)
    return {**env, "MYSHOP_DB_POOL_SIZE": str(pool), "MYSHOP_DB_MAX_OVERFLOW": str(overflow)}


async def check_connection_budget(names: list[str], env: dict[str, str]) -> None:
    """Every service of this run against its server's budget (shared.connection_budget), before any starts;
    raises `BudgetExceeded`. Services behind PgBouncer are PgBouncer's to budget."""
    by_server: dict[tuple[object, ...], list[ServiceSettings]] = {}
    for name in names:
        with environment(pool_env(name, env)):
            settings = service_settings(name)
        if not settings.db_pgbouncer:
            url = make_url(settings.effective_database_url)
            by_server.setdefault((url.host, url.port, url.query.get("host")), []).append(settings)
    for group in by_server.values():
        # The server's `postgres` database, as migrations use it: the services' own may not exist yet.
        maintenance = make_url(group[0].effective_database_url).set(database="postgres")
        limit = await connection_budget.server_limit(
            group[0], maintenance.render_as_string(hide_password=False)
        )
        connection_budget.check_server([connection_budget.demand_of(s) for s in group], limit)


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """The process environment replaced by `env` for the block (settings objects read os.environ), then the
    old one back: a test worker goes on with its own settings."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# The peers each service calls (GraphQL), as `MYSHOP_<SERVICE>_<PEER>_URL` settings.
PEERS: dict[str, tuple[str, ...]] = {
    "orders": ("products", "inventory", "payments", "users", "shipping"),
    "notifications": ("users", "products"),
    "shipping": ("orders",),
}


def peer_env(names: list[str]) -> dict[str, str]:
    """Where the services of this run reach each other: users' keys and tokens, and each service's peers."""

    def base(name: str) -> str:
        settings = service_settings(name)
        return f"http://{settings.host}:{settings.port}"

    env: dict[str, str] = {}
    if "users" in names:
        env["MYSHOP_JWKS_URL"] = f"{base('users')}/.well-known/jwks.json"
        env["MYSHOP_SERVICE_TOKEN_URL"] = f"{base('users')}/oauth/token"
        env["MYSHOP_ROUTER_JWKS_URL"] = env["MYSHOP_JWKS_URL"]  # the router verifies tokens at the edge
    for name, peers in PEERS.items():
        if name in names:
            for peer in peers:
                if peer in names:
                    env[f"MYSHOP_{name.upper()}_{peer.upper()}_URL"] = f"{base(peer)}/graphql"
    return env


def start_mail_sink(names: list[str], data_dir: Path, *, log: Callable[[str], None]) -> Any:
    """A local SMTP sink where notifications sends (when it sends to this machine): mails become files."""
    if "notifications" not in names:
        return None
    from myshop.smtp_sink import start_smtp_sink

    settings = service_settings("notifications")
    host, port = settings.smtp_host, settings.smtp_port  # type: ignore[attr-defined]
    if host not in ("127.0.0.1", "localhost", "::1"):
        return None  # a real mail server is configured
    try:
        return start_smtp_sink(data_dir, host=host, port=port, log=lambda line: None)
    except OSError as exc:
        log(f"no mail sink started ({exc}); notifications sends to whatever listens there")
        return None


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start_service(
    name: str, logs_dir: Path, env: dict[str, str], *, port: int | None = None, label: str | None = None
) -> ServiceProcess:
    """`myshop serve <name>` as a child; `port` and `label` (its log's name) given: one of its replicas."""
    if port is None:
        settings = service_settings(name)
    else:
        settings = registry.load(name).settings_class(port=port)
        env = {**env, f"MYSHOP_{name.upper()}_PORT": str(port)}
    command = [sys.executable, "-m", "myshop.cli", "serve", name]
    return _spawn(label or name, command, settings, logs_dir, pool_env(name, env))


def router_config_file() -> Path:
    """The repository's router.yaml: header propagation, persisted queries, supergraph hot reload."""
    return Path(__file__).resolve().parent.parent / "router.yaml"


def router_ops_token() -> str | None:
    """The ops token the router would run with (router.yaml, the environment), if any."""
    config = router_config_file()
    ops = RouterConfig.load(config if config.exists() else None).ops
    return ops.token.get_secret_value() if ops.token is not None else None


def start_router(
    supergraph: Path,
    subgraph_urls: dict[str, str],
    logs_dir: Path,
    env: dict[str, str],
    *,
    port: int | None = None,
    label: str = "router",
) -> ServiceProcess:
    """The router over `supergraph`, sending each subgraph's requests to `subgraph_urls` (this run's)."""
    env = {**env, "MYSHOP_ROUTER_SUBGRAPH_URLS": ",".join(f"{k}={v}" for k, v in subgraph_urls.items())}
    settings = RouterConfig() if port is None else RouterConfig(port=port)
    command = [sys.executable, "-m", "myshop.cli", "router", "--supergraph", str(supergraph)]
    command += ["--host", settings.host, "--port", str(settings.port)]
    config = router_config_file()
    if config.exists():
        command += ["--config", str(config)]
    return _spawn(label, command, settings, logs_dir, env)


def _spawn(
    name: str,
    command: list[str],
    settings: ServiceSettings | RouterConfig,
    logs_dir: Path,
    env: dict[str, str],
) -> ServiceProcess:
    if port_in_use(settings.host, settings.port):
        raise RuntimeError(
            f"port {settings.port} ({name}) is taken by another process; "
            f"stop it or set MYSHOP_{name.upper()}_PORT"
        )
    logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = logs_dir / f"{name}.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group: Ctrl-C reaches us, and we stop the services in order.
            start_new_session=True,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
    return ServiceProcess(name, settings, process, log_path)


def die_with_parent() -> None:
    """In the child: get SIGTERM when `myshop up` dies, even by SIGKILL, so no service outlives it."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def wait_ready(service: ServiceProcess, *, timeout: float = 60.0, path: str = "/health/ready") -> float:
    """Seconds until `path` answers 200; raises when the process dies or time runs out."""
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with code {service.process.returncode}")
            try:
                response = client.get(f"{service.url}{path}")
                if response.status_code == 200:
                    return time.monotonic() - started
                last = response.text[:300]
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}"
            time.sleep(0.2)
    raise RuntimeError(f"{service.name} was not ready after {timeout:.0f} s: {last}")


def stop_services(services: list[ServiceProcess], *, grace: float = 10.0) -> None:
    for service in reversed(services):
        if service.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for service in services:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            service.process.wait(remaining)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def service_env(postgres_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MYSHOP_POSTGRES_URL"] = postgres_url
    env["MYSHOP_REDIS_URL"] = redis_url
    return env


def run_async(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]
