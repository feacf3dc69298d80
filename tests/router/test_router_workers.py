"""`myshop router --workers N`: N processes share the port (SO_REUSEPORT), and a SIGTERM to the router stops
them all cleanly."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from test_server_command import free_port, router_process


def _wait_for_health(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    output = process.stdout.read().decode() if process.stdout and process.poll() is not None else ""
    raise AssertionError(f"the router did not answer /health: {output}")


@pytest.fixture
def two_workers() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = router_process(
        "--supergraph",
        "schema/supergraph.graphql",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
    )
    try:
        _wait_for_health(process, port)
        # Both workers listen once each has answered its own health check: wait for the second one's socket.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_listening(process, port)) < 2:
            time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _listening(process: subprocess.Popen[bytes], port: int) -> list[int]:
    pids = []
    for child in psutil.Process(process.pid).children():
        try:
            if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in child.net_connections()):
                pids.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return pids


def test_two_workers_share_the_port_and_each_serves_connections(two_workers) -> None:
    """Given `myshop router --workers 2`
    When 20 clients connect at once and each asks a GraphQL query
    Then two workers listen on the port, every client is answered, and both workers hold connections"""
    process, port = two_workers
    workers = _listening(process, port)
    assert len(workers) == 2
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(20)]
    try:
        for client in clients:
            answer = client.post("/graphql", json={"query": "{ __typename }"})
            assert answer.json() == {"data": {"__typename": "Query"}}
        holding = {
            pid: sum(
                1
                for c in psutil.Process(pid).net_connections()
                if c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED
            )
            for pid in workers
        }
    finally:
        for client in clients:
            client.close()
    assert sum(holding.values()) == 20
    assert all(count > 0 for count in holding.values()), holding


def test_a_sigterm_to_the_router_stops_every_worker_and_exits_0(two_workers) -> None:
    """Given `myshop router --workers 2` serving
    When the router process gets SIGTERM
    Then it exits 0 and no worker is left"""
    process, port = two_workers
    workers = [psutil.Process(pid) for pid in _listening(process, port)]
    assert len(workers) == 2

    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=20)[0].decode()

    assert process.returncode == 0, output
    assert "Traceback" not in output
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert alive == []


def test_workers_refuse_port_0(tmp_path: Path) -> None:
    """Given `--workers 2 --port 0` (each worker would listen on another port)
    When the router starts
    Then it exits with an error instead of serving"""
    process = router_process(
        "--supergraph", "schema/supergraph.graphql", "--host", "127.0.0.1", "--port", "0", "--workers", "2"
    )
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode != 0
    assert "fixed port" in output
