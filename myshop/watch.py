"""The second life of `myshop up`'s supervisor: once everything is up, it replaces itself (os.execv, same
pid, same children) with this lean watcher, so that what it imported to start the system (Typer, Rich, the
embedded servers' probes with SQLAlchemy and redis-py) is not held while the stack runs: the supervisor idled
at 78 MiB RSS with it, at about 20 MiB as this (bench/stack_memory.py).

It reads its state from MYSHOP_UP_WATCH (JSON: the children's names, pids and logs, the data directory, the
embedded servers, the mail sink's address), restarts the mail sink (a thread of the old image), then watches
the children: one that exits on its own ends the run (exit 1, its log's tail printed); SIGINT or SIGTERM stops
every child in reverse order (SIGTERM, then SIGKILL after 10 s), the mail sink and the embedded servers, and
exits 0 after printing "stopped.".
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

STATE_VARIABLE = "MYSHOP_UP_WATCH"
GRACE_SECONDS = 10.0
# What stops a run; `myshop up` blocks them before its exec into this, and myshop.host stops on them too.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop(BaseException):
    pass


def exited(pid: int) -> int | None:
    """The exit status of child `pid` if it has ended (reaped here), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return -1
    return os.waitstatus_to_exitcode(status) if done else None


def stop_children(pids: list[int]) -> None:
    for pid in reversed(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    waiting = list(pids)
    while waiting:
        waiting = [pid for pid in waiting if exited(pid) is None]
        if waiting and time.monotonic() > deadline:
            for pid in waiting:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            return
        time.sleep(0.1)


def stop_embedded(data_dir: Path, embedded: list[str]) -> None:
    """The embedded servers this run used, stopped unless another live process still uses them (their own
    refcount): reattached first, as a later `myshop up` on the same directory would."""
    from myshop.embedded.postgres import EmbeddedPostgres
    from myshop.embedded.valkey import EmbeddedValkey

    if "redis" in embedded:
        valkey = EmbeddedValkey(data_dir / "redis")
        valkey.start()
        valkey.stop()
    if "postgres" in embedded:
        postgres = EmbeddedPostgres(data_dir / "postgres")
        postgres.start()
        postgres.stop()


def main() -> int:
    state: dict[str, Any] = json.loads(os.environ.pop(STATE_VARIABLE))
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise Stop

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    children: list[dict[str, Any]] = state["children"]
    pids = [child["pid"] for child in children]
    data_dir = Path(state["data_dir"])
    sink: Any = None
    code = 0
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # one that came during the exec lands here
        if state["mail"] is not None:
            from myshop.smtp_sink import start_smtp_sink

            host, port = state["mail"]
            sink = start_smtp_sink(data_dir, host=host, port=port, log=lambda line: None)
        while True:
            for child in children:
                status = exited(child["pid"])
                if status is not None:
                    pids.remove(child["pid"])
                    from myshop.devstack import tail

                    print(
                        f"{child['name']} exited ({status}); its log:\n{tail(Path(child['log']))}", flush=True
                    )
                    code = 1
                    raise Stop
            time.sleep(0.5)
    except Stop:
        pass
    finally:
        stopping = True
        stop_children(pids)
        if sink is not None:
            sink.stop()
        if state["embedded"]:
            stop_embedded(data_dir, state["embedded"])
        print("stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
