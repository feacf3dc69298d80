"""`myshop router`: starts over a supergraph file, answers /health at once, stops cleanly on SIGTERM, and
loads only the libraries its settings need."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from edge_headers import OPS

from myshop.servers import free_port

REPO = Path(__file__).resolve().parents[2]


def router_process(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "myshop.cli", "router", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_router_command_serves_health_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "router.yaml"
    config.write_text(
        "limits:\n  max_body_bytes: 1000\nsubgraph_urls:\n  users: http://127.0.0.1:1/graphql\n"
    )
    process = router_process(
        "--supergraph",
        "schema/supergraph.graphql",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(config),
    )
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None, process.stdout.read().decode() if process.stdout else ""
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        # The YAML file was read: its body limit and its URL override are in force.
        too_big = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }" + " " * 1000}
        )
        assert too_big.status_code == 413
        ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", headers=OPS, timeout=10).json()
        assert ready["subgraphs"]["users"]["url"] == "http://127.0.0.1:1/graphql"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output = process.communicate(timeout=15)[0].decode()
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, output
    assert "Traceback" not in output


def test_router_command_refuses_a_missing_supergraph() -> None:
    process = router_process("--supergraph", "no/such/supergraph.graphql", "--port", str(free_port()))
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 2
    assert "no/such/supergraph.graphql" in output
    assert "Traceback" not in output


def test_router_command_refuses_a_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "router.yaml"
    config.write_text("limits:\n  max_bodee_bytes: 1\n")
    process = router_process(
        "--supergraph", "schema/supergraph.graphql", "--port", str(free_port()), "--config", str(config)
    )
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 2
    assert "max_bodee_bytes" in output


def test_a_router_without_auth_rate_limit_or_entity_cache_does_not_load_their_libraries() -> None:
    """Given a router built with the default settings (no edge auth, rate limit, entity cache, readiness
    check) When its app is made Then PyJWT, httpx and redis stay out of its memory (about 20 MB)"""
    code = (
        "import sys; from pathlib import Path; from router.config import RouterConfig; "
        "from router.server import build_gateway, create_app; config = RouterConfig(graphiql=False); "
        f"sdl = Path({str(REPO / 'schema' / 'supergraph.graphql')!r}).read_text(); "
        "create_app(build_gateway(sdl, config), config); "
        "print(','.join(m for m in ('jwt', 'httpx', 'redis') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
