"""The commands' side of the harness (`myshop replicas`, `myshop chaos`, bench/chaos.py): a directory of the
run, one clear line when something cannot start, the figures printed."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from rich.console import Console

from myshop.replicas.chaos import Plan, run_chaos
from myshop.replicas.cluster import ROUTER, Cluster
from myshop.replicas.servers import ServerError


def _directory(directory: Path | None) -> Path:
    return directory.resolve() if directory else Path(tempfile.mkdtemp(prefix="myshop-replicas-"))


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
        asyncio.run(hold())
    except KeyboardInterrupt:
        console.print("stopped.")
    except (ServerError, RuntimeError) as exc:
        console.print(f"[red]{str(exc).splitlines()[0]}[/red] (logs in {where})")
        return 1
    return 0


def chaos_run(directory: Path | None, plan: Plan, console: Console) -> int:
    """The run and its figures; 0 when every invariant held (its directory removed then), 1 otherwise."""
    where = _directory(directory)
    try:
        report = asyncio.run(run_chaos(where, plan, log=lambda line: console.print(f"  {line}")))
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
