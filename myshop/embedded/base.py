"""What the embedded servers share: the error they raise, and handling processes and pid files (a server's
processes are recognised by their working directory, its data directory)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import psutil
from redis.backoff import NoBackoff
from redis.retry import Retry

# A probe must answer now: redis-py 8 retries a failed connection 10 times with growing pauses by default.
NO_RETRY = Retry(NoBackoff(), 0)


class EmbeddedServerError(RuntimeError):
    """A server is unreachable and no embedded one may, or could, replace it."""


def processes_in(directory: Path, name: str) -> list[psutil.Process]:
    """Live processes called `name` whose working directory is `directory`."""
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] == name and alive(process) and Path(process.cwd()) == directory:
                found.append(process)
        except psutil.Error:
            continue
    return found


def alive(process: psutil.Process) -> bool:
    # A zombie still has its pid (pid 1 is slow to reap in some containers) but is no server any more.
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def process_of(pid: int) -> psutil.Process | None:
    try:
        process = psutil.Process(pid)
    except psutil.Error:
        return None
    return process if alive(process) else None


def end_processes(processes: Iterable[psutil.Process], sig: signal.Signals, grace: float = 5.0) -> None:
    """Send `sig`, then SIGKILL whatever is still alive after `grace` seconds; wait until all are gone."""
    processes = list(processes)
    for process in processes:
        with contextlib.suppress(psutil.Error):  # psutil checks the pid still names the same process
            process.send_signal(sig)
            process.resume()  # a stopped process would handle the signal only once continued
    if not wait_for(lambda: not any(alive(p) for p in processes), grace):
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.kill()
        wait_for(lambda: not any(alive(p) for p in processes), 5.0)


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def live_pids(path: Path) -> list[int]:
    try:
        pids = json.loads(path.read_text() or "[]")
    except (OSError, ValueError):
        return []
    if not isinstance(pids, list):
        return []
    return [pid for pid in pids if isinstance(pid, int) and process_of(pid) is not None]


def write_pids(path: Path, pids: list[int]) -> None:
    path.write_text(json.dumps(pids))


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or when the process dies
        yield
