"""The idle memory of the whole `myshop up` stack, per process, against a reference measured in the same run.

Starts `myshop up` of this checkout on free ports (router, every subgraph, the mail sink) with a data
directory of its own and embedded PostgreSQL/Redis (the configured servers are pointed at port 1, where
nothing listens, unless `--servers-from-env`), waits until it says "MyShop is up.", lets it idle `--settle`
seconds, reads RSS and PSS of every process of the stack (the supervisor, the process hosting the subgraphs
or each subgraph's own, the router; from /proc/<pid>/smaps_rollup, the median of `--samples` reads a second
apart) and stops it with SIGINT. The embedded servers are not MyShop's processes and are not counted.

The reference, measured after ours: this checkout's `myshop up --process-per-service` (one process per
subgraph, as production runs them), or with `--baseline DIR` another checkout's `myshop up` (e.g. main:
`git worktree add --detach /tmp/base-rss main && make -C /tmp/base-rss .venv/.installed`).

    .venv/bin/python bench/stack_memory.py [--baseline /tmp/base-rss] [--json out.json]

Prints a table (MiB): process | RSS | PSS, each process of either run, and the sums with their ratio. The
figure of issue 20: the sum of RSS <= 700 MiB. With `--json PATH` it writes the result in bench/summary.py's
format.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from summary import figure

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("users", "products", "inventory", "payments", "shipping", "orders", "notifications", "analytics")
HOST = "services"  # the process hosting several subgraphs (myshop.host)
TARGET_MIB = 700.0
UP_TIMEOUT = 300.0


@dataclass
class Stack:
    """One checkout's measured stack: MiB per process name."""

    label: str
    rss: dict[str, float] = field(default_factory=dict)
    pss: dict[str, float] = field(default_factory=dict)

    @property
    def total_rss(self) -> float:
        return sum(self.rss.values())

    @property
    def total_pss(self) -> float:
        return sum(self.pss.values())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rollup(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process in MiB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            values[key] = int(rest.split()[0]) / 1024
    return values["Rss"], values["Pss"]


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_name(pid: int) -> tuple[str, list[str]] | None:
    """A child of the supervisor as (its name, the services it runs): `myshop.process serve <name>...`
    (HOST when it hosts several), `myshop.process router`; None for anything else."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    if "serve" in argv:
        served = [arg for arg in argv[argv.index("serve") + 1 :] if arg in SERVICES]
        if served:
            return (served[0] if len(served) == 1 else HOST), served
    return ("router", []) if "router" in argv else None


def stack_processes(supervisor: int) -> tuple[dict[str, int], set[str]]:
    """The stack's processes by name, and the services they run."""
    found = {"supervisor": supervisor}
    served: set[str] = set()
    for child in children(supervisor):
        named = process_name(child)
        if named is not None:
            found[named[0]] = child
            served.update(named[1])
    return found, served


def measure(checkout: Path, label: str, args: argparse.Namespace, up_args: tuple[str, ...] = ()) -> Stack:
    data_dir = Path(tempfile.mkdtemp(prefix=f"myshop-rss-{label.replace(' ', '-')}-"))
    env = dict(os.environ)
    env.update(
        {
            "MYSHOP_DATA_DIR": str(data_dir),
            "MYSHOP_ROUTER_PORT": str(free_port()),
            "MYSHOP_NOTIFICATIONS_SMTP_PORT": str(free_port()),
            "MYSHOP_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200",
        }
    )
    for name in SERVICES:
        env[f"MYSHOP_{name.upper()}_PORT"] = str(free_port())
    if not args.servers_from_env:
        env["MYSHOP_POSTGRES_URL"] = "postgresql+asyncpg://postgres@127.0.0.1:1/postgres"
        env["MYSHOP_REDIS_URL"] = "redis://127.0.0.1:1/0"
    log_path = data_dir / "up.out"
    print(f"[{label}] myshop up in {checkout} (log {log_path})", file=sys.stderr, flush=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(checkout / ".venv" / "bin" / "myshop"), "up", *up_args],
            cwd=checkout,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        started = time.monotonic()
        while b"MyShop is up." not in log_path.read_bytes():
            if process.poll() is not None:
                raise RuntimeError(
                    f"[{label}] myshop up exited ({process.returncode}):\n{log_path.read_text()}"
                )
            if time.monotonic() - started > UP_TIMEOUT:
                raise RuntimeError(f"[{label}] not up after {UP_TIMEOUT:.0f} s:\n{log_path.read_text()}")
            time.sleep(0.5)
        print(
            f"[{label}] up in {time.monotonic() - started:.0f} s; idling {args.settle:g} s", file=sys.stderr
        )
        time.sleep(args.settle)
        pids, served = stack_processes(process.pid)
        missing = ({"supervisor", "router"} - set(pids)) | (set(SERVICES) - served)
        if missing:
            raise RuntimeError(f"[{label}] processes not found: {', '.join(sorted(missing))}")
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        for index in range(args.samples):
            if index:
                time.sleep(1.0)
            for name, pid in pids.items():
                samples[name].append(rollup(pid))
        stack = Stack(label)
        for name in pids:
            stack.rss[name] = statistics.median(rss for rss, _ in samples[name])
            stack.pss[name] = statistics.median(pss for _, pss in samples[name])
        return stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def report(ours: Stack, base: Stack) -> None:
    print(f"idle memory of `myshop up`, MiB ({ours.label} | {base.label})")
    print(f"{'process':<14} {'RSS':>8} {'PSS':>8} {'ref RSS':>9} {'ref PSS':>9}")
    names = list(ours.rss) + [name for name in base.rss if name not in ours.rss]

    def cell(stack: Stack, name: str, width: int, pss: bool = False) -> str:
        values = stack.pss if pss else stack.rss
        return f"{values[name]:>{width}.1f}" if name in values else f"{'-':>{width}}"

    for name in names:
        print(
            f"{name:<14} {cell(ours, name, 8)} {cell(ours, name, 8, True)} {cell(base, name, 9)}"
            f" {cell(base, name, 9, True)}"
        )
    total = f"total ({len(ours.rss)}|{len(base.rss)})"
    print(
        f"{total:<14} {ours.total_rss:>8.1f} {ours.total_pss:>8.1f} {base.total_rss:>9.1f}"
        f" {base.total_pss:>9.1f}   RSS ratio {ours.total_rss / base.total_rss:.2f}"
    )
    holds = "holds" if ours.total_rss <= TARGET_MIB else "does not hold"
    print(f"target: sum of RSS <= {TARGET_MIB:.0f} MiB: {ours.total_rss:.0f} MiB, {holds}")


def figures(ours: Stack, base: Stack) -> list[dict[str, object]]:
    reference = f"{base.label}, same run"
    return [
        figure(
            f"myshop up idle RSS, sum of {len(ours.rss)} processes",
            ours.total_rss,
            "MiB",
            base.total_rss,
            reference,
            target=f"<= {TARGET_MIB:.0f} MiB",
            holds=ours.total_rss <= TARGET_MIB,
            digits=1,
        ),
        figure(
            f"myshop up idle PSS, sum of {len(ours.pss)} processes",
            ours.total_pss,
            "MiB",
            base.total_pss,
            reference,
            digits=1,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="the reference: a checkout with its own .venv (default: this one's --process-per-service)",
    )
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of idle before measuring")
    parser.add_argument("--samples", type=int, default=3, help="reads of each process, a second apart")
    parser.add_argument("--keep", action="store_true", help="keep each run's data directory and logs")
    parser.add_argument("--json", type=Path, help="write the figures here (bench/summary.py's format)")
    parser.add_argument(
        "--servers-from-env",
        action="store_true",
        help="use MYSHOP_POSTGRES_URL / MYSHOP_REDIS_URL as set (default: embedded servers of the run)",
    )
    args = parser.parse_args()
    ours = measure(ROOT, "ours", args)
    if args.baseline is not None:
        base = measure(args.baseline.resolve(), "baseline checkout", args)
    else:
        base = measure(ROOT, "process per service", args, ("--process-per-service",))
    report(ours, base)
    if args.json is not None:
        per_process = {
            stack.label: {
                name: {"rss": round(stack.rss[name], 1), "pss": round(stack.pss[name], 1)}
                for name in stack.rss
            }
            for stack in (ours, base)
        }
        args.json.write_text(json.dumps({"figures": figures(ours, base), "processes": per_process}, indent=2))


if __name__ == "__main__":
    main()
