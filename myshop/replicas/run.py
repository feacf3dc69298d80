"""The commands' side of the harness (`myshop replicas`, `myshop chaos`, bench/chaos.py): a directory of the
run, one clear line when something cannot start, the figures printed."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from myshop.replicas.chaos import Plan, run_chaos
from myshop.replicas.cluster import ROUTER, Cluster
from myshop.servers import ServerError

T = TypeVar("T")


def _directory(directory: Path | None) -> Path:
    return directory.resolve() if directory else Path(tempfile.mkdtemp(prefix="myshop-replicas-"))


async def stopped_by_signals(work: Coroutine[Any, Any, T]) -> T:
    """`work`, cancelled by SIGINT or SIGTERM so that everything it started is stopped in order. Installed
    here, not left to Python: a shell script's background job inherits SIGINT ignored (see `myshop up`)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    return await work


def hold_replicas(directory: Path | None, replicas: int, console: Console) -> int:
    where = _directory(directory)

    async def hold() -> None:
        async with Cluster(where, replicas=replicas, log=lambda line: console.print(f"  {line}")) as cluster:
            console.print(f"[bold]MyShop replicas are up[/bold] (logs in {cluster.logs}); HAProxy's doors:")
            for name, port in cluster.doors.items():
                console.print(f"  {name.ljust(13)} http://127.0.0.1:{port}/graphql")
            console.print(f"Clients use the {ROUTER}'s door. Stop: Ctrl-C")
            await asyncio.Event().wait()

    try:
        asyncio.run(stopped_by_signals(hold()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("stopped.")
    except (ServerError, RuntimeError) as exc:
        console.print(f"[red]{str(exc).splitlines()[0]}[/red] (logs in {where})")
        return 1
    return 0


def chaos_run(directory: Path | None, plan: Plan, console: Console) -> int:
    """The run and its figures; 0 when every invariant held (its directory removed then), 1 otherwise."""
    where = _directory(directory)
    try:
        report = asyncio.run(
            stopped_by_signals(run_chaos(where, plan, log=lambda line: console.print(f"  {line}")))
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print(f"stopped; logs in {where}")
        return 130
    except (ServerError, RuntimeError) as exc:
        console.print(f"[red]{str(exc).splitlines()[0]}[/red] (logs in {where})")
        return 1
    for line in report.lines():
        console.print(line)
    if report.ok and directory is None:
        shutil.rmtree(where, ignore_errors=True)
    elif not report.ok:
        console.print(f"[red]invariants failed[/red]; logs in {where}")
    return 0 if report.ok else 1
