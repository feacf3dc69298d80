"""What the end-to-end benchmark scripts share: a run of their own (databases, Redis keys, free ports, a data
directory, its own key ring), MyShop's services (and the router) as real processes over it, and the clean-up.
Scripts import it as `stack` (they run as `python bench/<name>.py`, so this folder is on their path).

    RUN = stack.isolate(SERVICES, router=True)   # before anything reads the settings
    ...
    async with stack.Stack(SERVICES, router=True) as running:
        running.url["orders"], running.router_url, running.token(["ADMIN"])
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def isolate(services: list[str], *, router: bool = False) -> str:
    """Points this process's settings at a run of its own and returns its id: databases
    `myshop_bench<id>_*`, Redis keys `bench:<id>:*`, a free port per service (and the router), a temporary
    data directory unless MYSHOP_DATA_DIR is set. No users process: the services sign their SERVICE tokens
    and verify tokens with the run's own key ring; the router has no JWKS, so it passes tokens on to the
    subgraphs, which verify them. Call it before anything reads the settings (the scripts import `myshop`
    and `shared` after it)."""
    run = uuid.uuid4().hex[:6]
    os.environ.setdefault("MYSHOP_DATA_DIR", tempfile.mkdtemp(prefix="myshop-bench-"))
    os.environ["MYSHOP_DATABASE_PREFIX"] = f"myshop_bench{run}_"
    os.environ["MYSHOP_REDIS_PREFIX"] = f"bench:{run}:"
    os.environ["MYSHOP_LOG_LEVEL"] = "WARNING"
    os.environ["MYSHOP_JWKS_URL"] = ""
    os.environ["MYSHOP_SERVICE_TOKEN_URL"] = ""
    if router:
        os.environ["MYSHOP_ROUTER_JWKS_URL"] = ""
    for name in [*services, "router"] if router else services:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            os.environ[f"MYSHOP_{name.upper()}_PORT"] = str(sock.getsockname()[1])
    return run


class Stack:
    """`services` migrated and started as processes (each awaited ready), then the router over the committed
    supergraph when `router`; on leaving, all stopped and their databases dropped."""

    def __init__(self, services: list[str], *, router: bool = False) -> None:
        from myshop import devstack
        from shared.auth import KeyRing, TokenIssuer
        from shared.auth.keys import generate_key_file
        from shared.settings import ServiceSettings

        self.services = services
        self.with_router = router
        common = ServiceSettings()
        generate_key_file(common.keys_dir)
        keys = KeyRing.load(
            private_key_pem=None, keys_dir=common.keys_dir, retired_public_pem=None, create=False
        )
        self.issuer = TokenIssuer(
            keys, issuer=common.jwt_issuer, audience=common.jwt_audience, ttl_seconds=3600
        )
        self.env = {**dict(os.environ), **devstack.peer_env(services)}
        os.environ.update(self.env)
        self.logs = Path(common.data_dir) / "logs"
        self.started: list[Any] = []
        self.url: dict[str, str] = {}  # service -> its GraphQL URL
        self.router_url = ""

    def token(self, roles: list[str]) -> str:
        """A token of a new user with `roles`, signed by the run's key ring."""
        return self.issuer.issue(str(uuid.uuid4()), roles).token

    def service_token(self, service: str) -> str:
        return self.issuer.issue_service_token(service, ttl_seconds=3600).token

    async def __aenter__(self) -> Stack:
        from myshop import devstack

        await devstack.migrate(self.services, log=lambda _line: None)
        try:
            for name in self.services:
                process = devstack.start_service(name, self.logs, self.env)
                self.started.append(process)
                devstack.wait_ready(process)
                self.url[name] = f"{process.url}/graphql"
            if self.with_router:
                supergraph = ROOT / "schema" / "supergraph.graphql"
                router = devstack.start_router(supergraph, self.url, self.logs, self.env)
                self.started.append(router)
                devstack.wait_ready(router, path="/health")
                self.router_url = f"{router.url}/graphql"
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        from myshop import devstack, migrations

        devstack.stop_services(self.started)
        for name in self.services:
            settings = devstack.service_settings(name)
            await migrations.drop_database(settings.postgres_url, settings.database_name)
