"""A three-node Redis Cluster of Debian's `redis-server` for this directory's tests: free loopback ports, data
in a temporary directory, slots spread by `redis-cli --cluster create`, no replicas; stopped at the end.

The session's `redis` fixture is a cluster client here, so tests imported from the single-server modules
(test_outbox, test_consumer) run against the cluster unchanged.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from myshop.servers import free_port
from shared.redis_client import create_redis

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


@dataclass
class RedisCluster:
    ports: list[int]
    processes: list[subprocess.Popen[bytes]]

    @property
    def url(self) -> str:
        """Any node names the cluster; the client learns the others."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def client(self, **options: Any) -> Any:
        return create_redis(self.url, cluster=True, **options)


def _free_ports(count: int) -> list[int]:
    # A cluster node also listens on its port + 10000 (the bus): both must be free.
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


def _cli(port: int, *args: str) -> str:
    return subprocess.run(
        [REDIS_CLI, "-p", str(port), *args], capture_output=True, text=True, timeout=30, check=False
    ).stdout


def _wait(what: str, ready: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Redis Cluster: {what} not within {timeout:.0f} s")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    if REDIS_SERVER is None or REDIS_CLI is None:
        pytest.skip("Debian's redis-server is not installed (make test installs it)")
    root = Path(tempfile.mkdtemp(prefix="myshop-redis-cluster-"))
    ports = _free_ports(3)
    processes = []
    try:
        for port in ports:
            node = root / str(port)
            node.mkdir()
            processes.append(
                subprocess.Popen(
                    [
                        REDIS_SERVER,
                        "--port", str(port),
                        "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", str(node / "nodes.conf"),
                        "--cluster-node-timeout", "2000",
                        "--dir", str(node),
                        "--save", "",
                        "--appendonly", "no",
                        "--protected-mode", "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        for port in ports:
            _wait(f"node {port} answering", lambda port=port: _cli(port, "ping").strip() == "PONG")
        created = subprocess.run(
            [
                REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas", "0", "--cluster-yes",
            ],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-500:]}{created.stderr}")
        for port in ports:
            _wait(
                f"node {port} cluster_state:ok",
                lambda port=port: "cluster_state:ok" in _cli(port, "cluster", "info"),
            )
        yield RedisCluster(ports, processes)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def redis(redis_cluster: RedisCluster) -> AsyncIterator[Any]:
    client = redis_cluster.client()
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
def _cluster_env(redis_cluster: RedisCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings and code that read the environment see the cluster (the run's prefix stays).
    monkeypatch.setenv("MYSHOP_REDIS_URL", redis_cluster.url)
    monkeypatch.setenv("MYSHOP_REDIS_CLUSTER", "true")
