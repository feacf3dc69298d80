"""`make bench`: the headline benchmarks in a short form, one after another, and one table of their figures.

    .venv/bin/python bench/summary.py [--baseline DIR] [--only NAME ...] [--json PATH]

Runs bench/gateways/run.py, bench/products_search.py, bench/catalog_cache.py, bench/place_order.py and
bench/stack_memory.py (each under `flock /tmp/myshop-bench.lock`, so no two benchmarks of the machine overlap,
and each with a time limit), then prints one table:

    figure | ours | reference (same run) | ratio | target | holds?

`--baseline DIR` (a checkout of main with its own .venv, e.g. `git worktree add --detach /tmp/base main &&
make -C /tmp/base .venv/.installed`) is passed to the benchmarks that measure a baseline checkout beside this
one (`--baseline` in their `--help`: gateways, stack_memory).

The JSON contract. Each benchmark takes `--json PATH` and, when its run ends, writes to PATH:

    {"figures": [{"name": str,            # what was measured, e.g. "placeOrder, 10 clients"
                  "value": float,         # ours
                  "unit": str,            # "req/s", "ms", "MiB", "orders/s", "x" ...
                  "reference": float|null,       # the same figure of the reference, measured in the same run
                  "reference_name": str|null,    # what the reference is ("bare SQL", "Hive Gateway", "main")
                  "ratio": float|null,           # value / reference
                  "target": str|null,            # the acceptance line, e.g. "<= 700 MiB", "ratio >= 2"
                  "holds": bool|null}],          # whether the target holds (null: no target)
     ...}                                 # anything else it likes (per-process figures, ...)

A benchmark whose `--help` does not offer `--json` is not run: its row says "no JSON (bench lacks --json)".
A benchmark that fails, times out or writes no file gets a row saying so. The exit status is 1 when a figure
with a target does not hold or a benchmark failed, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCK = "/tmp/myshop-bench.lock"
FIELDS = ("name", "value", "unit", "reference", "reference_name", "ratio", "target", "holds")


def figure(
    name: str,
    value: float,
    unit: str,
    reference: float | None = None,
    reference_name: str | None = None,
    *,
    target: str | None = None,
    holds: bool | None = None,
    digits: int = 2,
) -> dict[str, Any]:
    """One figure of the contract above, as each benchmark writes it: value and reference rounded to `digits`,
    the ratio of the two as measured (None without a reference)."""
    return {
        "name": name,
        "value": round(value, digits),
        "unit": unit,
        "reference": round(reference, digits) if reference is not None else None,
        "reference_name": reference_name if reference is not None else None,
        "ratio": round(value / reference, 2) if reference else None,
        "target": target,
        "holds": holds,
    }


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    # The short form: the whole summary stays within about ten minutes.
    args: tuple[str, ...]
    timeout: float


BENCHES = (
    Bench(
        "gateways",
        "bench/gateways/run.py",
        (
            *("--duration", "10", "--warmup", "3", "--simple-duration", "3"),
            *("--only", "myshop router, dedup off", "--only", "Hive Gateway + Rust QP"),
        ),
        240,
    ),
    Bench("products_search", "bench/products_search.py", ("--requests", "150", "--warmup", "20"), 240),
    Bench("catalog_cache", "bench/catalog_cache.py", ("--requests", "100", "--rounds", "1"), 120),
    Bench("place_order", "bench/place_order.py", ("--orders", "60"), 150),
    Bench("stack_memory", "bench/stack_memory.py", ("--settle", "5"), 420),
)


@dataclass
class Outcome:
    bench: Bench
    figures: list[dict[str, Any]]
    problem: str | None = None
    seconds: float = 0.0


def options_of(bench: Bench) -> str:
    """The benchmark's `--help` text ("" when it cannot say)."""
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / bench.script), "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout if done.returncode == 0 else ""


def run(bench: Bench, baseline: Path | None, out_dir: Path) -> Outcome:
    options = options_of(bench)
    if "--json" not in options:
        return Outcome(bench, [], "no JSON (bench lacks --json)")
    result = out_dir / f"{bench.name}.json"
    command = ["flock", LOCK, sys.executable, str(ROOT / bench.script), *bench.args, "--json", str(result)]
    if baseline is not None and "--baseline" in options:
        command += ["--baseline", str(baseline)]
    print(f"== {bench.name}: {' '.join(command[2:])}", flush=True)
    started = time.monotonic()
    # Its own process group, so a timeout ends the benchmark and whatever it started.
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    try:
        code = process.wait(bench.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        return Outcome(bench, [], f"timed out after {bench.timeout:.0f} s", time.monotonic() - started)
    seconds = time.monotonic() - started
    if not result.exists():
        return Outcome(bench, [], f"failed (exit code {code}), no JSON written", seconds)
    try:
        figures = json.loads(result.read_text())["figures"]
    except (ValueError, KeyError, TypeError) as exc:
        return Outcome(bench, [], f"unreadable JSON ({exc})", seconds)
    figures = [{key: figure.get(key) for key in FIELDS} for figure in figures if isinstance(figure, dict)]
    return Outcome(bench, figures, None if code == 0 else f"exit code {code}", seconds)


def number(value: Any, unit: str | None = None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        text = str(value)
    return f"{text} {unit}" if unit else text


def table(outcomes: list[Outcome]) -> list[list[str]]:
    rows = [["figure", "ours", "reference (same run)", "ratio", "target", "holds?"]]
    for outcome in outcomes:
        if outcome.problem is not None and not outcome.figures:
            rows.append([outcome.bench.name, outcome.problem, "", "", "", ""])
            continue
        for figure in outcome.figures:
            reference = number(figure["reference"], figure["unit"])
            if figure["reference_name"]:
                reference += f" ({figure['reference_name']})"
            holds = {True: "yes", False: "NO", None: "-"}.get(figure["holds"], str(figure["holds"]))
            rows.append(
                [
                    f"{outcome.bench.name}: {figure['name']}",
                    number(figure["value"], figure["unit"]),
                    reference,
                    "-" if figure["ratio"] is None else f"{figure['ratio']:.2f}",
                    figure["target"] or "-",
                    holds,
                ]
            )
        if outcome.problem is not None:
            rows.append([outcome.bench.name, outcome.problem, "", "", "", ""])
    return rows


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("-+-".join("-" * width for width in widths))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=Path, help="a checkout of main with its own .venv (see above)")
    parser.add_argument(
        "--only", action="append", choices=[bench.name for bench in BENCHES], help="run only these benchmarks"
    )
    parser.add_argument("--json", type=Path, help="also write every figure here (the same contract)")
    args = parser.parse_args()
    benches = [bench for bench in BENCHES if not args.only or bench.name in args.only]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="myshop-bench-summary-") as out:
        outcomes = [run(bench, args.baseline, Path(out)) for bench in benches]
    print()
    print(
        f"MyShop benchmark summary ({time.monotonic() - started:.0f} s; "
        "each reference measured in the same run)"
    )
    print_table(table(outcomes))
    if args.json is not None:
        every = [{**figure, "bench": o.bench.name} for o in outcomes for figure in o.figures]
        args.json.write_text(json.dumps({"figures": every}, indent=2))
    failed = any(o.problem is not None and o.problem != "no JSON (bench lacks --json)" for o in outcomes)
    missed = any(figure["holds"] is False for o in outcomes for figure in o.figures)
    return 1 if failed or missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
