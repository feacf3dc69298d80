"""The router's CPU per request, in process: the ASGI app driven directly (no HTTP client, no wrk) against the
benchmark's stand-in subgraphs, so what is measured is the router's own work (server layer, pipeline, subgraph
HTTP client) and little else. Steadier than wrk on a shared machine: CPU time of this process, not wall time.

    .venv/bin/python bench/gateways/inprocess.py [--requests 400] [--concurrency 50] [--query nested|simple]
        [--profile out.prof]   # cProfile of the measured loop (read with `python -m pstats out.prof`)

Prints `µs CPU/request` and the wall rate; the answer is checked against data.json first (exits 1 if wrong).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import uvloop

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from run import (  # noqa: E402
    NESTED_QUERY,
    REPO_ROOT,
    SIMPLE_QUERY,
    SUBGRAPHS,
    Started,
    answers_http,
    expected_answer,
    first_difference,
    free_port,
    wait_until,
)

from router.config import RouterConfig  # noqa: E402
from router.server import build_gateway, create_app  # noqa: E402
from shared.composition import compose  # noqa: E402
from shared.heap import settle_heap  # noqa: E402


async def call(app: Any, body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"accept", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "query_string": b"",
        "client": ("127.0.0.1", 5555),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    out: dict[str, Any] = {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        else:
            out["body"] = message["body"]

    await app(scope, receive, send)
    return out["status"], out["body"]


async def measure(app: Any, body: bytes, requests: int, concurrency: int) -> tuple[float, float]:
    """(µs CPU per request, requests per wall second)."""
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:
            status, _payload = await call(app, body)
            assert status == 200, status

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / requests * 1e6, requests / wall


async def main_async(args: argparse.Namespace, sdl: str) -> int:
    config = RouterConfig(graphiql=False, log_level="WARNING")
    app = create_app(build_gateway(sdl, config), config)
    settle_heap()  # as `myshop router` does before serving
    query = NESTED_QUERY if args.query == "nested" else SIMPLE_QUERY
    body = orjson.dumps({"query": query})
    status, payload = await call(app, body)
    where = first_difference(orjson.loads(payload), expected_answer(query))
    if status != 200 or where is not None:
        print(f"WRONG answer ({status}): {where}", file=sys.stderr)
        return 1
    await measure(app, body, max(50, args.requests // 4), args.concurrency)  # warm-up
    profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not wall time
    if profiler:
        profiler.enable()
    results = [await measure(app, body, args.requests, args.concurrency) for _ in range(args.rounds)]
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    best = min(results)
    print(
        f"{args.query} x{args.requests} c{args.concurrency}: best {best[0]:,.0f} µs CPU/request "
        f"({best[1]:,.0f} req/s wall); rounds: " + ", ".join(f"{cpu:,.0f}" for cpu, _ in results)
    )
    await app.pipeline.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--query", choices=("nested", "simple"), default="nested")
    parser.add_argument("--profile", help="write a cProfile of the measured rounds here")
    args = parser.parse_args()
    with benchmark_subgraphs("bench-inprocess-") as sdl:
        return uvloop.run(main_async(args, sdl))


@contextlib.contextmanager
def benchmark_subgraphs(prefix: str) -> Iterator[str]:
    """The gateways benchmark's subgraphs (answers replayed) on free ports, for as long as the block runs;
    yields the supergraph SDL composed over them."""
    work_dir = Path(tempfile.mkdtemp(prefix=prefix))
    ports: set[int] = set()
    subgraph_ports = {name: free_port(ports) for name in SUBGRAPHS}
    node = shutil.which("node") or "node"
    subgraphs = Started(
        "subgraphs",
        [node, str(HERE / "subgraphs.mjs"), *(f"{n}={p}" for n, p in subgraph_ports.items())],
        work_dir,
        {"BENCH_SUBGRAPH_CACHE": "1"},
    )
    try:
        url = f"http://127.0.0.1:{subgraph_ports['accounts']}/graphql"
        wait_until(lambda: answers_http(url), subgraphs, timeout=30)
        yield compose(
            [
                (
                    name,
                    f"http://127.0.0.1:{port}/graphql",
                    (HERE / "schemas" / f"{name}.graphql").read_text(),
                )
                for name, port in subgraph_ports.items()
            ],
            repo_root=REPO_ROOT,
        )
    finally:
        subgraphs.stop()
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
