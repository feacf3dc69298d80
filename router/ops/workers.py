"""`myshop router --workers N`: N processes serve one address, each a whole router (its own event loop, plan
cache and subgraph connection pools) on its own SO_REUSEPORT socket, so the kernel spreads new connections
over them and one process per core uses every core the router is given.

The parent only starts the workers and waits. Each worker is in a process group of its own and dies with the
parent (PR_SET_PDEATHSIG): a Ctrl-C or a SIGTERM reaches the parent alone, which passes one SIGTERM to every
worker (each drains its requests and exits 0), instead of each worker getting the signal twice (uvicorn
treats a second signal as "exit now"). The parent exits with the first failing worker's status, else 0.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
from collections.abc import Callable
from types import FrameType

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEPORT (not listening yet: uvicorn does that)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def serve_workers(count: int, serve_one: Callable[[socket.socket], None], host: str, port: int) -> None:
    """Fork `count` workers, each running `serve_one` on its own socket bound to `host`:`port`."""
    if port == 0:
        raise SystemExit("several workers need a fixed port (each would get another one with port 0)")
    try:
        probe = listener(host, port)  # the address is free (or ours): fail here, not N times
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", host, port, exc)
        raise SystemExit(3) from exc
    children: list[int] = []
    try:
        for _ in range(count):
            pid = os.fork()
            if pid == 0:
                _worker(serve_one, host, port)  # never returns
            children.append(pid)
    finally:
        probe.close()
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    remaining = set(children)
    while remaining:
        pid, wait_status = os.wait()
        if pid not in remaining:
            continue
        remaining.discard(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if code != 0:
            logger.error("router worker %d exited with status %d", pid, code)
            status = status or (code if code > 0 else 1)
            stop(signal.SIGTERM, None)  # one worker failing takes the others down: a supervisor restarts us
    if status:
        raise SystemExit(status)


def _worker(serve_one: Callable[[socket.socket], None], host: str, port: int) -> None:
    code = 0
    try:
        os.setpgid(0, 0)
        _die_with_parent()
        serve_one(listener(host, port))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        logger.exception("a router worker failed")
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: a killed parent leaves its workers to the supervisor
        pass
    if os.getppid() == 1:  # the parent died before prctl
        os._exit(1)
