"""The idle memory of the whole `myshop up` stack, per process: this checkout against a baseline in one run.

Starts `myshop up` of this checkout (and then of `--baseline DIR`, a checkout of main with its own `.venv`,
e.g. `git worktree add --detach /tmp/base-rss main && make -C /tmp/base-rss .venv/.installed`), each on free
ports (router, every subgraph, the mail sink) with a data directory of its own and embedded PostgreSQL/Redis
(the configured servers are pointed at port 1, where nothing listens, unless `--servers-from-env`),
waits until it says "MyShop is up.", lets it idle `--settle` seconds, reads RSS and PSS of every process of
the stack (the supervisor, each subgraph, the router; from /proc/<pid>/smaps_rollup, the median of
`--samples` reads a second apart) and stops it with SIGINT. The embedded servers are not MyShop's
processes and are not counted.

    .venv/bin/python bench/stack_memory.py --baseline /tmp/base-rss [--json out.json]

Prints a table (MiB): process | RSS | PSS | baseline RSS | baseline PSS | RSS ratio, and the sums. The figure
of issue 20: the sum of RSS <= 700 MiB. With `--json PATH` it writes the result in bench/summary.py's format.
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

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("users", "products", "inventory", "payments", "shipping", "orders", "notifications", "analytics")
PROCESSES = ("supervisor", *SERVICES, "router")
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


def process_name(pid: int) -> str | None:
    """The stack's name of a child of the supervisor (`myshop serve <name>`, `myshop router`), else None."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    if "serve" in argv and argv.index("serve") + 1 < len(argv):
        name = argv[argv.index("serve") + 1]
        return name if name in SERVICES else None
    return "router" if "router" in argv else None


def stack_processes(supervisor: int) -> dict[str, int]:
    found = {"supervisor": supervisor}
    for child in children(supervisor):
        name = process_name(child)
        if name is not None:
            found[name] = child
    return found


def measure(checkout: Path, label: str, args: argparse.Namespace) -> Stack:
    data_dir = Path(tempfile.mkdtemp(prefix=f"myshop-rss-{label}-"))
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
            [str(checkout / ".venv" / "bin" / "myshop"), "up"],
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
        pids = stack_processes(process.pid)
        missing = set(PROCESSES) - set(pids)
        if missing:
            raise RuntimeError(f"[{label}] processes not found: {', '.join(sorted(missing))}")
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        for index in range(args.samples):
            if index:
                time.sleep(1.0)
            for name, pid in pids.items():
                samples[name].append(rollup(pid))
        stack = Stack(label)
        for name in PROCESSES:
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


def ratio(ours: float, reference: float | None) -> float | None:
    return round(ours / reference, 3) if reference else None


def report(ours: Stack, base: Stack | None) -> None:
    head = f"{'process':<14} {'RSS':>8} {'PSS':>8}"
    if base is not None:
        head += f" {'base RSS':>9} {'base PSS':>9} {'RSS ratio':>9}"
    print("idle memory of `myshop up`, MiB")
    print(head)
    rows = [(name, ours.rss[name], ours.pss[name]) for name in PROCESSES]
    rows.append(("total", ours.total_rss, ours.total_pss))
    for name, rss, pss in rows:
        line = f"{name:<14} {rss:>8.1f} {pss:>8.1f}"
        if base is not None:
            base_rss = base.total_rss if name == "total" else base.rss[name]
            base_pss = base.total_pss if name == "total" else base.pss[name]
            line += f" {base_rss:>9.1f} {base_pss:>9.1f} {ours_ratio(rss, base_rss):>9}"
        print(line)
    holds = "holds" if ours.total_rss <= TARGET_MIB else "does not hold"
    print(f"target: sum of RSS <= {TARGET_MIB:.0f} MiB: {ours.total_rss:.0f} MiB, {holds}")


def ours_ratio(ours: float, reference: float) -> str:
    value = ratio(ours, reference)
    return "-" if value is None else f"{value:.2f}"


def figures(ours: Stack, base: Stack | None) -> list[dict[str, object]]:
    reference_name = "main (baseline checkout), same run" if base is not None else None
    return [
        {
            "name": "myshop up idle RSS, sum of 10 processes",
            "value": round(ours.total_rss, 1),
            "unit": "MiB",
            "reference": round(base.total_rss, 1) if base is not None else None,
            "reference_name": reference_name,
            "ratio": ratio(ours.total_rss, base.total_rss if base is not None else None),
            "target": f"<= {TARGET_MIB:.0f} MiB",
            "holds": ours.total_rss <= TARGET_MIB,
        },
        {
            "name": "myshop up idle PSS, sum of 10 processes",
            "value": round(ours.total_pss, 1),
            "unit": "MiB",
            "reference": round(base.total_pss, 1) if base is not None else None,
            "reference_name": reference_name,
            "ratio": ratio(ours.total_pss, base.total_pss if base is not None else None),
            "target": None,
            "holds": None,
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--baseline", type=Path, help="a checkout of main with its own .venv, measured after ours"
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
    base = measure(args.baseline.resolve(), "baseline", args) if args.baseline is not None else None
    report(ours, base)
    if args.json is not None:
        per_process = {
            name: {
                "rss": round(ours.rss[name], 1),
                "pss": round(ours.pss[name], 1),
                **(
                    {"baseline_rss": round(base.rss[name], 1), "baseline_pss": round(base.pss[name], 1)}
                    if base is not None
                    else {}
                ),
            }
            for name in PROCESSES
        }
        args.json.write_text(json.dumps({"figures": figures(ours, base), "processes": per_process}, indent=2))


if __name__ == "__main__":
    main()
