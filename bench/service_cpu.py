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
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import os
import sys
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
    args = parser.parse_args()
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
