"""Debian's HAProxy in front of the replicas: one door (a frontend on a loopback port) per subgraph and one
for the routers, each balancing over that service's replicas, which leave the rotation when
`/health/ready` fails.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from myshop.servers import ServerError, wait_port

# Checks every second; two failures take a replica out, one success puts it back. A replica killed with
# SIGKILL refuses connections at once, which HAProxy's retries see before any check does.
CHECK = "inter 1s fastinter 500ms downinter 1s fall 2 rise 1"


@dataclass(frozen=True)
class Door:
    """A service's address as its callers know it, and the replicas behind it."""

    name: str
    port: int
    replicas: tuple[int, ...]


def config(doors: list[Door]) -> str:
    """The configuration: the same defaults for every door.

    Retries: a request that never reached a replica (`conn-failure`) is always sent to the other one; one
    whose replica died before answering (`empty-response`) or answered 503 (not ready) is replayed too. That
    is safe here because every write MyShop sends through a door is idempotent by key: `placeOrder` carries
    the client's idempotency key, and every saga step orders sends carries a key derived from (order, step).
    """
    lines = [
        "global",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    timeout connect 1s",
        # A busy replica's readiness may take a while (its database, Redis, peers); without this the check
        # times out at `inter`, and both replicas of a loaded service leave the rotation at once (503s).
        "    timeout check 3s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout tunnel 1h",  # WebSocket subscriptions
        "    timeout http-keep-alive 10s",
        "    retries 3",
        "    option redispatch 1",
        "    retry-on conn-failure empty-response 503",
        "    option httpchk GET /health/ready",
        "    http-check expect status 200",
        f"    default-server check {CHECK}",
    ]
    for door in doors:
        lines += [
            f"frontend {door.name}",
            f"    bind 127.0.0.1:{door.port}",
            f"    default_backend {door.name}",
            f"backend {door.name}",
            "    balance roundrobin",
        ]
        lines += [f"    server {door.name}-{i} 127.0.0.1:{port}" for i, port in enumerate(door.replicas)]
    return "\n".join(lines) + "\n"


def start(doors: list[Door], directory: Path, preexec: object = None) -> subprocess.Popen[bytes]:
    """HAProxy in the foreground as a child (`-db`), its configuration and log in `directory`."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        raise ServerError("haproxy not found: install Debian's haproxy (apt-get install -y haproxy)")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "haproxy.cfg"
    path.write_text(config(doors))
    checked = subprocess.run([binary, "-c", "-q", "-f", str(path)], capture_output=True, text=True)
    if checked.returncode != 0:
        raise ServerError(f"haproxy refused its configuration: {checked.stderr.strip()[:500]}")
    with (directory / "haproxy.log").open("ab") as log:
        process = subprocess.Popen(
            [binary, "-db", "-f", str(path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=preexec,  # type: ignore[arg-type]
        )
    for door in doors:
        wait_port(door.port, timeout=10, process=process)
    return process
