"""Several subgraphs in one process, as `myshop up` runs them unless told `--process-per-service`.

Each hosted service keeps everything of its own but the interpreter: its uvicorn server on its own port,
its event loop (a thread), its settings, database engine, Redis pool, background workers, metrics registry
and log file (`<logs>/<name>.log`, chosen by `shared.log.service_var`, which each thread sets). What they
share is what dominated the stack's memory: one copy of Python and of the libraries every subgraph imports
(Strawberry, graphql-core, SQLAlchemy, redis-py, pydantic, cryptography: about 100 of a subgraph's 115 MiB
RSS). The price: they share one GIL (one core among them), and a crash of the process stops them all (the
watcher then ends the run, as for any one service). Production runs one process per service (the
Dockerfile, docker-compose, Kubernetes), as `myshop up --process-per-service` does.

SIGINT and SIGTERM stop every server (uvicorn's graceful shutdown: workers stopped, pools closed) and end the
process with 0; a service whose server ends on its own (a failed start, a fatal error) stops the others and
ends it with 1.

    python -m myshop.process serve users products … --logs DIR
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from myshop.watch import STOP_SIGNALS

if TYPE_CHECKING:
    import uvicorn

SHUTDOWN_SECONDS = 15.0


def settings_of(name: str) -> Any:
    """Service `name`'s settings from the environment, with `myshop up`'s pool sizes for it (which a process
    of its own gets through its environment) unless the environment chose them."""
    from myshop.devstack import up_pool
    from subgraphs import registry

    sizes = up_pool(name, os.environ)
    if sizes is None:
        return registry.settings_class(name)()
    return registry.settings_class(name)(db_pool_size=sizes[0], db_max_overflow=sizes[1])


def run_server(name: str, server: uvicorn.Server) -> None:
    """A service's thread: everything it logs names it (its event loop's tasks inherit this context)."""
    from shared.log import service_var

    service_var.set(name)
    server.run()


def host(names: list[str], logs: Path) -> int:
    import uvicorn

    from shared.app import checked_settings, server_config
    from shared.heap import settle_heap
    from shared.log import configure_logging
    from subgraphs import registry

    definitions = [registry.load(name) for name in names]
    settings = [checked_settings(definition, settings_of(definition.name)) for definition in definitions]
    logs.mkdir(parents=True, exist_ok=True)
    configure_logging(
        "services",
        level=settings[0].log_level,
        json=settings[0].log_json,
        files={name: logs / f"{name}.log" for name in names},
    )
    servers = [uvicorn.Server(server_config(d, s)) for d, s in zip(definitions, settings, strict=True)]
    threads = [
        threading.Thread(target=run_server, args=(name, server), name=name, daemon=True)
        for name, server in zip(names, servers, strict=True)
    ]
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in STOP_SIGNALS:  # myshop.watch's: SIGINT and SIGTERM
        signal.signal(signum, on_signal)
    settle_heap()  # the services' schemas and mappings, built above, live as long as the process
    for thread in threads:
        thread.start()
    ended: list[str] = []
    while not stop.wait(0.5):
        ended = [thread.name for thread in threads if not thread.is_alive()]
        if ended:
            print(f"{', '.join(ended)} stopped on its own: stopping the others", file=sys.stderr, flush=True)
            break
    for server in servers:
        server.should_exit = True
    for thread in threads:
        thread.join(SHUTDOWN_SECONDS)
    return 1 if ended else 0
