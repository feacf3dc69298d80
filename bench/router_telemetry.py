"""Benchmark of what telemetry costs the router: requests per second of one simple query (one fetch) through
`router.server` over MyShop's supergraph, against a stub products subgraph that answers at once.

Three runs, each a fresh router process pinned to core 0 (`taskset`), `wrk` and the stub on core 1:
`off` (no exporter configured: only the W3C traceparent is forwarded), `on` (spans recorded by an in-memory
exporter, cleared on each export so memory stays flat), and, with `--repo DIR`, `off` on another checkout
(the code before a change) for a before/after comparison.

    .venv/bin/python bench/router_telemetry.py [--duration 10 --connections 20] [--repo /tmp/baseline]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

REPO = Path(__file__).resolve().parent.parent
QUERY = "query Simple { products(first: 1) { totalCount } }"

STUB = """
import uvicorn
BODY = b'{"data":{"products":{"totalCount":1}}}'
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]})
    await send({"type": "http.response.body", "body": BODY})
uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_level="warning",
            loop="uvloop", http="httptools", access_log=False)
"""

ROUTER = """
import sys, uvicorn
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from router.config import RouterConfig
from router.server import build_gateway, create_app
tracing = sys.argv[4] == "on"
sdl = (Path(sys.argv[1]) / "schema" / "supergraph.graphql").read_text()
names = ("users", "products", "orders", "payments", "inventory", "notifications", "analytics")
config = RouterConfig(graphiql=False, subgraph_urls={n: sys.argv[2] for n in names})
kwargs = {}
if tracing:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Discard()))
    kwargs["tracer_provider"] = provider
app = create_app(build_gateway(sdl, config), config, **kwargs)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning", loop="uvloop",
            http="httptools", access_log=False, log_config=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def run(repo: Path, tracing: str, stub_url: str, duration: int, connections: int, lua: Path) -> float:
    port = free_port()
    env = {**os.environ, "MYSHOP_LOG_LEVEL": "WARNING", "PYTHONPATH": str(repo)}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    router = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-c", ROUTER, str(repo), stub_url, str(port), tracing], env=env
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(f"{url}/health")
        answer = httpx.post(f"{url}/graphql", json={"query": QUERY}).json()
        assert answer == {"data": {"products": {"totalCount": 1}}}, answer
        subprocess.run(
            ["taskset", "-c", "1", "wrk", "-t1", "-c", str(connections), "-d", "3", "-s", lua, url],
            check=True,
            capture_output=True,
        )  # warm-up
        out = subprocess.run(
            ["taskset", "-c", "1", "wrk", "-t1", "-c", str(connections), "-d", str(duration), "-s", lua, url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert match, out
        return float(match.group(1))
    finally:
        router.terminate()
        router.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repo", type=Path, help="another checkout to measure with tracing off (before)")
    args = parser.parse_args()
    stub_port = free_port()
    stub = subprocess.Popen(["taskset", "-c", "1", sys.executable, "-c", STUB, str(stub_port)])
    body = orjson.dumps({"query": QUERY}).decode()
    lua = Path(tempfile.mkdtemp()) / "post.lua"
    lua.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.body = [[{body}]]\nwrk.path = "/graphql"\n'
    )
    try:
        stub_url = f"http://127.0.0.1:{stub_port}/graphql"
        wait_up(f"http://127.0.0.1:{stub_port}/")
        runs = [("before (off)", args.repo, "off")] if args.repo else []
        runs += [("after, tracing off", REPO, "off"), ("after, tracing on", REPO, "on")]
        results: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        for _ in range(args.rounds):  # interleaved, so drift of the machine touches every variant alike
            for name, repo, tracing in runs:
                results[name].append(run(repo, tracing, stub_url, args.duration, args.connections, lua))
        for name, values in results.items():
            print(f"{name:22} best {max(values):8.0f} req/s   all {', '.join(f'{v:.0f}' for v in values)}")
    finally:
        stub.terminate()
        stub.wait(10)


if __name__ == "__main__":
    main()
