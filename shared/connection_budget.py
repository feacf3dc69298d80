"""The connection budget: how many PostgreSQL connections MyShop's processes may open, checked at start.

The arithmetic, in one place (README "Connection budget" says the same):

    per process = pool_size + max_overflow  (+ every other pooled engine the process opens on that server:
                  analytics' reports engine when its read database is on the main server)
    demand      = sum over the services on one server of  replicas x per process
    budget      = max_connections - superuser_reserved_connections - reserve
    demand <= budget

`myshop up` knows every service it starts and checks the sum. A lone service process (`myshop serve`, a pod)
knows only itself, so it checks its own part against an equal share of the budget:
`replicas x per process <= budget / services_on_server`. Equal shares are simple and honest; a service that
needs more than its share says so by lowering `MYSHOP_DB_SERVICES_ON_SERVER` for itself, or moves to
PgBouncer.

Not in the pools, so in the reserve: migrations and the demo seed (one connection each, one at a time,
before the services start), admins' psql. Behind PgBouncer (`MYSHOP_DB_PGBOUNCER=true`) a process's pool
holds client connections of PgBouncer, which are cheap; PostgreSQL sees PgBouncer's `default_pool_size` per
database and user, which is where that budget is written (README), so the process check is skipped.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import pgbouncer_safe
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)

REMEDY = (
    "lower MYSHOP_DB_POOL_SIZE / MYSHOP_DB_MAX_OVERFLOW / MYSHOP_DB_REPLICAS, raise the server's "
    "max_connections, or run through PgBouncer (MYSHOP_DB_PGBOUNCER=true)"
)


class BudgetExceeded(Exception):
    """The pools asked for cannot fit the server: the message names the arithmetic."""


@dataclass(frozen=True)
class ServerLimit:
    """What the services on one server may open between them."""

    max_connections: int
    superuser_reserved: int
    reserve: int
    # From MYSHOP_DB_CONNECTION_LIMIT (already net of the superuser slots) rather than the server's settings.
    configured: bool = False

    @property
    def budget(self) -> int:
        return max(0, self.max_connections - self.superuser_reserved - self.reserve)

    def describe(self) -> str:
        if self.configured:
            return (
                f"{self.max_connections} MYSHOP_DB_CONNECTION_LIMIT - {self.reserve} reserve = {self.budget}"
            )
        return (
            f"{self.max_connections} max_connections - {self.superuser_reserved} superuser_reserved - "
            f"{self.reserve} reserve = {self.budget}"
        )


@dataclass(frozen=True)
class ServiceDemand:
    """The connections one service's processes may hold on its server."""

    service: str
    replicas: int
    pool_size: int
    max_overflow: int
    extra: int = 0

    @property
    def per_process(self) -> int:
        return self.pool_size + self.max_overflow + self.extra

    @property
    def total(self) -> int:
        return self.replicas * self.per_process

    def shape(self) -> str:
        """`2 replicas x (10 pool + 10 overflow)`, the words of the error message."""
        extra = f" + {self.extra} other engines" if self.extra else ""
        replicas = "1 replica" if self.replicas == 1 else f"{self.replicas} replicas"
        return f"{replicas} x ({self.pool_size} pool + {self.max_overflow} overflow{extra})"


def demand_of(settings: ServiceSettings) -> ServiceDemand:
    return ServiceDemand(
        settings.service_name,
        settings.db_replicas,
        settings.db_pool_size,
        settings.db_max_overflow,
        settings.db_extra_connections,
    )


async def server_limit(settings: ServiceSettings, url: str | None = None) -> ServerLimit:
    """MYSHOP_DB_CONNECTION_LIMIT when set, else the server's own settings (one short connection to `url`,
    the service's database by default)."""
    if settings.db_connection_limit is not None:
        return ServerLimit(settings.db_connection_limit, 0, settings.db_reserve, configured=True)
    engine = create_async_engine(
        url or settings.effective_database_url,
        poolclass=pool.NullPool,
        connect_args={**pgbouncer_safe(), "timeout": 5},
    )
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT current_setting('max_connections')::int, "
                        "current_setting('superuser_reserved_connections')::int"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return ServerLimit(row[0], row[1], settings.db_reserve)


def check_server(demands: list[ServiceDemand], limit: ServerLimit) -> None:
    """Every service on one server together (`myshop up`)."""
    total = sum(demand.total for demand in demands)
    if total <= limit.budget:
        return
    # Services of the same shape are counted together: `8 services x 1 replica x (10 pool + 10 overflow)`.
    shapes = Counter(demand.shape() for demand in demands)
    names = {demand.shape(): demand.service for demand in demands}
    terms = [
        f"{names[shape]} {shape}" if count == 1 else f"{count} services x {shape}"
        for shape, count in shapes.items()
    ]
    raise BudgetExceeded(
        f"connection budget exceeded: {' + '.join(terms)} = {total} > {limit.describe()}; {REMEDY}"
    )


def check_process(demand: ServiceDemand, limit: ServerLimit, services_on_server: int) -> None:
    """One service's processes against their equal share of the server's budget."""
    share = limit.budget // services_on_server
    if demand.total <= share:
        return
    services = "service" if services_on_server == 1 else "services"
    raise BudgetExceeded(
        f"connection budget exceeded: {demand.service}: {demand.shape()} = {demand.total} > its share "
        f"{limit.budget} / {services_on_server} {services} on the server = {share} ({limit.describe()}); "
        f"{REMEDY}, or set MYSHOP_DB_SERVICES_ON_SERVER when fewer services share the server"
    )


async def check_service_start(settings: ServiceSettings) -> None:
    """The check a service process runs before it serves: raises `BudgetExceeded`. A server that does not
    answer yet is not a reason to refuse the start (readiness reports it); the check is then skipped."""
    if settings.db_pgbouncer:
        logger.info("connection budget: through PgBouncer, PostgreSQL sees its pool, not this process's")
        return
    try:
        limit = await server_limit(settings)
    except Exception as exc:  # any failure to ask is "unknown", never a crash at start
        logger.warning("connection budget not checked: the server did not answer (%s)", type(exc).__name__)
        return
    check_process(demand_of(settings), limit, settings.db_services_on_server)
