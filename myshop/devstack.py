"""What `myshop up` does: infrastructure, migrations, demo data, one process per service, a clean stop.

Each service runs as its own process (`python -m myshop.process serve <name>`), logging to
`<data_dir>/logs/<name>.log`; the router (`python -m myshop.process router`) starts last, over the committed
supergraph and the subgraph URLs of this run.

Importing this module costs little: settings, SQLAlchemy, the subgraphs, the demo data and the router's
config are imported by the functions that use them. `myshop up`'s supervisor lives as long as the stack and
runs those functions in short-lived child processes (`plan_of`), so it never holds them (measured: the
supervisor idled at 203 MiB RSS holding them; see bench/stack_memory.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.settings import ServiceSettings


class HostPort(Protocol):
    host: str
    port: int


@dataclass
class Endpoint:
    """Where a process listens, as a plan computed in a child process gives it (no settings object)."""

    host: str
    port: int


@dataclass
class ServiceProcess:
    name: str
    settings: HostPort  # its ServiceSettings, RouterConfig or Endpoint
    process: subprocess.Popen[bytes]
    log_path: Path  # what the service logs
    # What its process writes itself, when that is not `log_path`: a process hosting several services.
    process_log: Path | None = None

    @property
    def output(self) -> Path:
        return self.process_log or self.log_path

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"


def service_settings(name: str) -> ServiceSettings:
    """`name`'s settings from the environment; imports its settings module only, not its app."""
    from subgraphs import registry

    return registry.settings_class(name)()


async def migrate(names: list[str], *, log: Callable[[str], None]) -> None:
    from myshop import migrations

    for name in names:
        settings = service_settings(name)
        if await migrations.ensure_database(settings.postgres_url, settings.database_name):
            log(f"created database {settings.database_name}")
        await migrations.upgrade_async(name, settings.effective_database_url)
        log(f"{name}: migrated to head")


async def seed(names: list[str], *, log: Callable[[str], None]) -> None:
    from myshop import demo
    from shared.db import create_engine, create_sessionmaker

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


# --- what `myshop up` asks of a child process (so that it never imports settings, SQLAlchemy, subgraphs) ---

# The line of a child's output that carries its answer (JSON), and the one that carries a refusal to start.
PLAN_MARK = "@plan "
REFUSAL_MARK = "@refused "


def common_plan() -> dict[str, str]:
    """(In a child) the settings `myshop up` starts from: the data directory and the configured servers."""
    from shared.settings import ServiceSettings

    common = ServiceSettings()
    return {
        "data_dir": str(common.data_dir.expanduser().resolve()),
        "postgres_url": common.postgres_url,
        "redis_url": common.redis_url,
    }


def stack_plan(names: list[str]) -> dict[str, Any]:
    """(In a child) where each process of this run listens, the peers' URLs, the mail sink's address (when
    notifications sends to this machine) and whether the router has an ops token configured."""
    from router.config import RouterConfig
    from subgraphs import registry

    services = {name: service_settings(name) for name in names}
    router = RouterConfig()
    mail = None
    if "notifications" in services:
        notifications = services["notifications"]
        host, port = notifications.smtp_host, notifications.smtp_port  # type: ignore[attr-defined]
        if host in ("127.0.0.1", "localhost", "::1"):
            mail = [host, port]
    return {
        "services": {name: [settings.host, settings.port] for name, settings in services.items()},
        "router": [router.host, router.port],
        "router_ops_token": router_ops_token() is not None,
        "peer_env": peer_env(names),
        "mail": mail,
        "all_subgraphs": list(registry.SUBGRAPHS),
    }


def prepare(names: list[str], *, demo_data: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """(In a child) the connection budget checked, every database migrated and (`demo_data`) seeded; then
    `stack_plan`. Raises `BudgetExceeded` when the pools do not fit their server."""
    asyncio.run(check_connection_budget(names, dict(os.environ)))
    asyncio.run(migrate(names, log=log))
    if demo_data:
        asyncio.run(seed(names, log=log))
    return stack_plan(names)


def plan_of(command: list[str], env: dict[str, str], *, log: Callable[[str], None]) -> dict[str, Any]:
    """Runs `myshop <command>` (one that prints `PLAN_MARK` + JSON) as a child and returns its answer; its
    other lines go to `log`. Raises `PlanRefused` (a refusal it printed) or RuntimeError (it failed)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "myshop.cli", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        preexec_fn=die_with_parent if sys.platform == "linux" else None,
    )
    plan: dict[str, Any] | None = None
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            if line.startswith(PLAN_MARK):
                plan = json.loads(line[len(PLAN_MARK) :])
            elif line.startswith(REFUSAL_MARK):
                raise PlanRefused(json.loads(line[len(REFUSAL_MARK) :]))
            else:
                output.append(line)
                log(line)
        process.wait()
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait()
    if process.returncode != 0 or plan is None:
        last = "\n".join(output[-20:])
        raise RuntimeError(f"`myshop {command[0]}` failed (exit code {process.returncode}):\n{last}")
    return plan


class PlanRefused(Exception):
    """A child of `plan_of` refused (e.g. the connection budget is exceeded); the message says why."""


# `myshop up`'s pools (pool, overflow) where MYSHOP_DB_POOL_SIZE / MYSHOP_DB_MAX_OVERFLOW are not set: small,
# so the stack and two test suites (2 workers, ~19 connections each at peak) share PostgreSQL's default 100:
# 7 services x 2 + orders 4 (its saga, recovery and relay use sessions beside the request's) = 18;
# 18 + 4 x 19 = 94 <= 100 - 3 superuser_reserved. README "Connection budget". Kept open, not overflow: an
# overflow connection is closed when it comes back, so a request overlapping a relay's poll opened a new one
# (a TLS probe, authentication and a backend started: more CPU than the request's own statements).
UP_POOLS: dict[str, tuple[int, int]] = {"orders": (4, 0)}
UP_POOL_DEFAULT = (2, 0)


def up_pool(name: str, env: Mapping[str, str]) -> tuple[int, int] | None:
    """`myshop up`'s (pool, overflow) for service `name`; None when the environment chose its own."""
    if "MYSHOP_DB_POOL_SIZE" in env or "MYSHOP_DB_MAX_OVERFLOW" in env:
        return None
    return UP_POOLS.get(name, UP_POOL_DEFAULT)


def pool_env(name: str, env: dict[str, str]) -> dict[str, str]:
    """`env` with `myshop up`'s pool sizes for service `name`, unless the environment chose its own."""
    sizes = up_pool(name, env)
    if sizes is None:
        return env
    return {**env, "MYSHOP_DB_POOL_SIZE": str(sizes[0]), "MYSHOP_DB_MAX_OVERFLOW": str(sizes[1])}


async def check_connection_budget(names: list[str], env: dict[str, str]) -> None:
    """Every service of this run against its server's budget (shared.connection_budget), before any starts;
    raises `BudgetExceeded`. Services behind PgBouncer are PgBouncer's to budget."""
    from sqlalchemy.engine import make_url

    from shared import connection_budget

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


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start_service(
    name: str,
    logs_dir: Path,
    env: dict[str, str],
    *,
    port: int | None = None,
    label: str | None = None,
    endpoint: Endpoint | None = None,
) -> ServiceProcess:
    """`myshop serve <name>` as a child; `port` and `label` (its log's name) given: one of its replicas;
    `endpoint`: where it listens, as already computed (no settings read here)."""
    settings: HostPort
    if port is None:
        settings = endpoint or service_settings(name)
    else:
        from subgraphs import registry

        settings = registry.settings_class(name)(port=port)
        env = {**env, f"MYSHOP_{name.upper()}_PORT": str(port)}
    command = [sys.executable, "-m", "myshop.process", "serve", name]
    return _spawn(label or name, command, settings, logs_dir, pool_env(name, env))


def router_config_file() -> Path:
    """The repository's router.yaml: header propagation, persisted queries, supergraph hot reload."""
    return Path(__file__).resolve().parent.parent / "router.yaml"


def router_ops_token() -> str | None:
    """The ops token the router would run with (router.yaml, the environment), if any."""
    from router.config import RouterConfig

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
    endpoint: Endpoint | None = None,
) -> ServiceProcess:
    """The router over `supergraph`, sending each subgraph's requests to `subgraph_urls` (this run's);
    `endpoint`: where it listens, as already computed (no settings read here)."""
    env = {**env, "MYSHOP_ROUTER_SUBGRAPH_URLS": ",".join(f"{k}={v}" for k, v in subgraph_urls.items())}
    settings: HostPort
    if endpoint is not None and port is None:
        settings = endpoint
    else:
        from router.config import RouterConfig

        settings = RouterConfig() if port is None else RouterConfig(port=port)
    command = [sys.executable, "-m", "myshop.process", "router", "--supergraph", str(supergraph)]
    command += ["--host", settings.host, "--port", str(settings.port)]
    config = router_config_file()
    if config.exists():
        command += ["--config", str(config)]
    return _spawn(label, command, settings, logs_dir, env)


def start_services_host(
    names: list[str], logs_dir: Path, env: dict[str, str], endpoints: dict[str, Endpoint]
) -> list[ServiceProcess]:
    """Services `names` in one child process (myshop.host), each on its endpoint and logging to its own file;
    one ServiceProcess each, all of the same process (whose own output goes to `services.log`)."""
    for name in names:
        check_port_free(name, endpoints[name])
    command = [sys.executable, "-m", "myshop.process", "serve", *names, "--logs", str(logs_dir)]
    process = launch("services", command, logs_dir, env)
    return [
        ServiceProcess(name, endpoints[name], process, logs_dir / f"{name}.log", logs_dir / "services.log")
        for name in names
    ]


def by_process(services: list[ServiceProcess]) -> dict[int, list[ServiceProcess]]:
    """`services` grouped by their process's pid (several share one when a host runs them), in order."""
    groups: dict[int, list[ServiceProcess]] = {}
    for service in services:
        groups.setdefault(service.process.pid, []).append(service)
    return groups


def check_port_free(name: str, settings: HostPort) -> None:
    if port_in_use(settings.host, settings.port):
        raise RuntimeError(
            f"port {settings.port} ({name}) is taken by another process; "
            f"stop it or set MYSHOP_{name.upper()}_PORT"
        )


def _spawn(
    name: str,
    command: list[str],
    settings: HostPort,
    logs_dir: Path,
    env: dict[str, str],
) -> ServiceProcess:
    check_port_free(name, settings)
    return ServiceProcess(name, settings, launch(name, command, logs_dir, env), logs_dir / f"{name}.log")


def launch(name: str, command: list[str], logs_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`command` as a child writing its output to `<logs_dir>/<name>.log`."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    # Two malloc arenas at most (glibc makes up to 8 per core, one per thread that allocates): the services'
    # few threads (executor, telemetry) then share them instead of each keeping an arena's pages resident.
    env = {"MALLOC_ARENA_MAX": "2", **env}
    with (logs_dir / f"{name}.log").open("ab") as log_file:
        return subprocess.Popen(
            command,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group: Ctrl-C reaches us, and we stop the services in order.
            start_new_session=True,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )


def die_with_parent() -> None:
    """In the child: get SIGTERM when `myshop up` dies, even by SIGKILL, so no service outlives it."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def wait_ready(service: ServiceProcess, *, timeout: float = 60.0, path: str = "/health/ready") -> float:
    """Seconds until `path` answers 200; raises when the process dies or time runs out. (http.client, not
    httpx: the supervisor of `myshop up` idles with what it imported, and httpx with its CLI's rich, click
    and pygments costs about 10 MiB there.)"""
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer yet"
    host, port = service.settings.host, service.settings.port
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited with code {service.process.returncode}")
        connection = http.client.HTTPConnection(host, port, timeout=2.0)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            if response.status == 200:
                return time.monotonic() - started
            last = response.read(300).decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}"
        finally:
            connection.close()
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} was not ready after {timeout:.0f} s: {last}")


def stop_services(services: list[ServiceProcess], *, grace: float = 10.0) -> None:
    services = [group[0] for group in by_process(services).values()]
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
