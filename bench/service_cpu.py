"""CPU per request of one subgraph operation, in process: the service's ASGI app called directly (no socket on
the request side, its database and Redis as configured), the thread's CPU time per request, and optionally a
cProfile of the measured requests timed in thread CPU (not wall time).

On this project's 2-core VM, wall-clock profilers mislead: a process preempted while it holds the GIL (a
socket send waking a peer) charges that time to the Python frame in hand, so `py-spy --gil` showed socket
writes as a third of a request. CPU time per request, and cProfile in CPU time, stayed steady.

Point it at a running stack: `bench/catalog_cache.py --hold 900` prints each process's pid; `--env-from PID`
takes that process's MYSHOP_* settings (its database, Redis prefix, keys), so the service in process reads
the same data:

    .venv/bin/python bench/catalog_cache.py --hold 900 &
    .venv/bin/python bench/service_cpu.py inventory body.json --env-from PID [--requests 300]
        [--authorization "Bearer ..."] [--profile out.prof]

BODY is the JSON body of a POST /graphql (query, variables), e.g. the `_entities` request the router sends.

`--instructions` counts the instructions each measured request executes instead (the script runs itself under
Valgrind's callgrind, Debian's `valgrind`, instrumenting only the measured requests, the service's background
loops stopped first): slower (about a minute for 60 requests) but the same figure whatever else the machine
runs, which no timing here is. Compare two checkouts by running each one's copy of this script.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def environment_of(pid: int) -> dict[str, str]:
    """The MYSHOP_* variables of a running process."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    pairs = (item.decode().split("=", 1) for item in raw if b"=" in item)
    return {key: value for key, value in pairs if key.startswith("MYSHOP_")}


async def measure(
    app: Any, body: bytes, headers: list[tuple[bytes, bytes]], args: argparse.Namespace
) -> None:
    async def request() -> bytes:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }  # fmt: skip
        sent = False
        out: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never leaves
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            out.append(message)

        await app(scope, receive, send)
        return b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")

    async with app.router.lifespan_context(app):
        print((await request())[:300].decode(errors="replace"))
        for _ in range(args.warmup):
            await request()
        if args.instructions:
            await count_instructions(request, args.requests)
            return
        profile = cProfile.Profile(time.thread_time_ns, 1e-9) if args.profile else None
        cpu, wall = time.thread_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        for _ in range(args.requests):
            await request()
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    print(
        f"{args.service}: {cpu * 1000 / args.requests:.3f} ms CPU per request, "
        f"{wall * 1000 / args.requests:.3f} ms wall, {args.requests} requests"
        + (" (profiled: slower)" if profile else "")
    )


CALLGRIND_OUT = "MYSHOP_CALLGRIND_OUT"


async def count_instructions(request: Any, requests: int) -> None:
    """Under callgrind (`--instructions`): the service's background loops (relay, consumer, workers) stopped,
    then instrumentation on for the measured requests alone. (Blocking on purpose: nothing else may run.)"""
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.cancel()
    await asyncio.sleep(0.1)
    control = ["callgrind_control", "--instr=on", str(os.getpid())]
    subprocess.run(control, check=True, capture_output=True)  # noqa: ASYNC221
    for _ in range(requests):
        await request()
    subprocess.run([control[0], "--instr=off", control[2]], check=True, capture_output=True)  # noqa: ASYNC221


def under_callgrind(args: argparse.Namespace) -> None:
    """Run this script again under callgrind and print the instructions per measured request."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs Valgrind (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        env = {**os.environ, CALLGRIND_OUT: str(out)}
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            sys.executable, *sys.argv,
        ]  # fmt: skip
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        totals = [line for line in out.read_text().splitlines() if line.startswith("totals:")]
    instructions = int(totals[0].split()[1])
    print(f"{args.service}: {instructions / args.requests / 1e6:.3f} M instructions per request")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("service")
    parser.add_argument("body", type=Path, help="the JSON body of the POST /graphql")
    parser.add_argument(
        "--env-from", type=int, metavar="PID", help="take the MYSHOP_* settings of this process"
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--authorization", help="the Authorization header to send")
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile (thread CPU time) of the measured requests"
    )
    parser.add_argument(
        "--instructions", action="store_true", help="instructions per request, counted by callgrind"
    )
    args = parser.parse_args()
    if args.instructions and CALLGRIND_OUT not in os.environ:
        under_callgrind(args)
        return
    if args.env_from:
        os.environ.update(environment_of(args.env_from))
    os.environ["MYSHOP_LOG_LEVEL"] = "WARNING"
    app = importlib.import_module(f"subgraphs.{args.service}.app").build_app()
    body = args.body.read_bytes()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if args.authorization:
        headers.append((b"authorization", args.authorization.encode()))
    asyncio.run(measure(app, body, headers, args))


if __name__ == "__main__":
    main()
