"""The chaos run's short form: every subgraph and the router twice behind HAProxy (a PostgreSQL and a Redis
of the run's own, so restarting them touches nothing of the suite's other worker), 30 s of clients and
partners while replicas are SIGKILLed and restarted, Redis and PostgreSQL each restarted once; then every
invariant holds.

Its processes run at a lower priority (`nice`), so the suite's other worker is not starved; under `--dist
loadfile` this file is one worker's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from myshop.replicas.chaos import Plan, run_chaos
from myshop.servers import ServerError, postgres_bindir

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def missing() -> list[str]:
    tools = [tool for tool in ("haproxy", "redis-server") if shutil.which(tool) is None]
    try:
        postgres_bindir()
    except ServerError:
        tools.append("postgresql")
    return tools


MISSING = missing()


@pytest.mark.skipif(
    bool(MISSING),
    reason=f"needs Debian's {', '.join(MISSING)} (`make test` and .ci/run install haproxy as root)",
)
async def test_replicas_killed_and_restarted_keep_every_invariant(tmp_path: Path) -> None:
    # Given two replicas of everything, 12 clients and 2 partners for 30 s, a kill every 3-5 s
    plan = Plan(duration=30, clients=12, partners=2, kill_every=(3.0, 5.0), settle_timeout=90)

    # When the run is over and the system has settled
    report = await run_chaos(tmp_path / "run", plan, log=print, niceness=10)
    print("\n".join(report.lines()))

    # Then the floor was met: load, kills, one restart of each server
    assert report.figures["load (s)"] >= 30
    assert report.figures["kills (SIGKILL)"] >= 3
    assert report.figures["Redis restarts / PostgreSQL restarts"] == "1 / 1"
    assert report.figures["orders placed (acknowledged)"] > 0
    # and every invariant held
    assert report.violations == {name: [] for name in report.violations}
