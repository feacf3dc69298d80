"""Benchmark of the router under fragment bombs (issue 13, item 1): the time each bomb takes to be refused,
and what 20 bombs a second do to everyone else's latency.

A router process (`myshop router` over schema/supergraph.graphql with router.yaml, pinned to core 0 with
`taskset` when it exists; no subgraph runs: `{ __typename }` and refused bombs need none) and this client on
core 1. Two phases of `--duration` seconds each, in one run:

1. reference: a probe sends `{ __typename }` one request after another (pausing `--gap` between them) and
   records each latency;
2. under attack: the same probe while bombs go out open-loop at `--rate` a second, 2^16, 2^20 and 2^30
   fields in turn (`fragment F1 on Query { ...F0 ...F0 } ...`, ~0.7 KB), each with a random comment so no
   cache helps; each bomb's answer time and code are recorded.

Prints p50/p99/max of both phases, their ratio, and per bomb size the answer times; exits 1 when a bomb was
not refused with a code, or (with `--check`) when the issue's floors are missed (every bomb < 50 ms, the
probe's p99 under attack < 20 ms).

    .venv/bin/python bench/edge_bombs.py [--duration 10 --rate 20 --gap 0.005] [--repo DIR] [--check]

`--repo DIR` runs another checkout's router (e.g. main before the change: `git worktree add --detach
/tmp/base main`); there bombs take seconds, so use a short `--duration`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
PROBE = "{ __typename }"
POWERS = (16, 20, 30)
HEADERS = {"accept": "application/graphql-response+json"}


def fragment_bomb(power: int) -> str:
    fragments = ["fragment F0 on Query { __typename }"] + [
        f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, power + 1)
    ]
    return f"# {uuid.uuid4()}\n" + " ".join(fragments) + f" query {{ ...F{power} }}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pinned(core: int) -> list[str]:
    """`taskset -c core` when the machine has it and more than one core: the router and the client apart."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core)]
    return []


def start_router(repo: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MYSHOP_LOG_LEVEL": "WARNING", "PYTHONPATH": str(repo)}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    command = [
        sys.executable,
        "-m",
        "myshop.cli",
        "router",
        "--supergraph",
        str(repo / "schema/supergraph.graphql"),
    ]
    command += ["--config", str(repo / "router.yaml"), "--host", "127.0.0.1", "--port", str(port)]
    router = subprocess.Popen(pinned(0) + command, env=env, cwd=repo)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return router
        except httpx.HTTPError:
            time.sleep(0.1)
    router.kill()
    raise RuntimeError("the router did not start")


async def probe(client: httpx.AsyncClient, seconds: float, gap: float) -> list[float]:
    """Latencies (ms) of `{ __typename }`, one after another, for `seconds`."""
    latencies: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        response = await client.post("/graphql", json={"query": PROBE})
        latencies.append((time.perf_counter() - started) * 1e3)
        assert response.json() == {"data": {"__typename": "Query"}}, response.text
        await asyncio.sleep(gap)
    return latencies


async def bomb(client: httpx.AsyncClient, power: int) -> tuple[int, float, str]:
    started = time.perf_counter()
    response = await client.post("/graphql", json={"query": fragment_bomb(power)}, headers=HEADERS)
    elapsed = (time.perf_counter() - started) * 1e3
    errors = response.json().get("errors") or [{}]
    return power, elapsed, (errors[0].get("extensions") or {}).get("code") or f"HTTP {response.status_code}"


async def attack(client: httpx.AsyncClient, seconds: float, rate: float) -> list[tuple[int, float, str]]:
    """Bombs sent open-loop at `rate` a second for `seconds` (a slow answer does not slow the sending)."""
    tasks: list[asyncio.Task[tuple[int, float, str]]] = []
    start = time.perf_counter()
    for i in range(int(seconds * rate)):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(bomb(client, POWERS[i % len(POWERS)])))
    return list(await asyncio.gather(*tasks))


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(latencies: Sequence[float]) -> str:
    return (
        f"n={len(latencies):5d}  p50 {percentile(latencies, 50):6.2f} ms"
        f"  p99 {percentile(latencies, 99):6.2f} ms  max {max(latencies):7.2f} ms"
    )


@dataclass
class Phases:
    reference: list[float]  # probe latencies alone (ms)
    attacked: list[float]  # probe latencies under bombs (ms)
    bombs: list[tuple[int, float, str]]  # (power, answer time in ms, code)
    # The router process's CPU seconds in each phase: wall-clock latencies on a busy machine include the
    # time the router waited for a core; its CPU time does not.
    reference_cpu: float
    attacked_cpu: float


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def measure(url: str, router: psutil.Process, duration: float, rate: float, gap: float) -> Phases:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with (
        httpx.AsyncClient(base_url=url, timeout=60) as probe_client,
        httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as bomb_client,
    ):
        await probe(probe_client, 1.0, gap)  # warm-up: the probe's plan cached, connections open
        start = cpu_seconds(router)
        reference = await probe(probe_client, duration, gap)
        middle = cpu_seconds(router)
        bombs_task = asyncio.create_task(attack(bomb_client, duration, rate))
        attacked = await probe(probe_client, duration, gap)
        bombs = await bombs_task
        end = cpu_seconds(router)
    return Phases(reference, attacked, bombs, middle - start, end - middle)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--gap", type=float, default=0.005, help="pause between probe requests (s)")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose router runs")
    parser.add_argument("--check", action="store_true", help="exit 1 when a floor of issue 13 is missed")
    args = parser.parse_args()
    core = pinned(1)
    if core:
        os.sched_setaffinity(0, {1})
    port = free_port()
    router = start_router(args.repo.resolve(), port)
    try:
        url = f"http://127.0.0.1:{port}"
        phases = asyncio.run(measure(url, psutil.Process(router.pid), args.duration, args.rate, args.gap))
    finally:
        router.terminate()
        router.wait(10)
    reference, attacked, bombs = phases.reference, phases.attacked, phases.bombs
    print(
        f"router: {args.repo.resolve()}  bombs: {args.rate:g}/s for {args.duration:g} s,"
        " 2^16/2^20/2^30 in turn"
    )
    print(f"{{ __typename }} alone          {summary(reference)}")
    print(f"{{ __typename }} under bombs    {summary(attacked)}")
    ratio = percentile(attacked, 99) / percentile(reference, 99)
    print(
        f"p99 under bombs / p99 alone: {ratio:.2f}"
        f"  (p50: {percentile(attacked, 50) / percentile(reference, 50):.2f})"
    )
    refused = True
    for power in POWERS:
        times = [elapsed for p, elapsed, _ in bombs if p == power]
        codes = sorted({code for p, _, code in bombs if p == power})
        refused &= all(code.startswith("MAX_") for code in codes)
        print(
            f"bomb 2^{power:<2}  n={len(times):3d}  median {statistics.median(times):6.2f} ms  p99"
            f" {percentile(times, 99):6.2f} ms  max {max(times):7.2f} ms  codes {', '.join(codes)}"
        )
    per_probe = phases.reference_cpu / len(reference)
    per_bomb = (phases.attacked_cpu - per_probe * len(attacked)) / len(bombs)
    print(
        f"router CPU: alone {phases.reference_cpu / args.duration * 1e3:.0f} ms/s ({per_probe * 1e3:.2f} ms a"
        f" probe), under bombs {phases.attacked_cpu / args.duration * 1e3:.0f} ms/s (about"
        f" {per_bomb * 1e3:.2f} ms a bomb); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    slowest = max(elapsed for _, elapsed, _ in bombs)
    floors = slowest < 50 and percentile(attacked, 99) < 20
    print(
        "issue 13 floors (every bomb < 50 ms, probe p99 under bombs < 20 ms):"
        f" {'met' if floors else 'MISSED'}"
    )
    return 0 if refused and (floors or not args.check) else 1


if __name__ == "__main__":
    sys.exit(main())
