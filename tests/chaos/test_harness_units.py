"""The chaos harness's own parts that need no processes: HAProxy accepts the configuration it is given, and
the subscriber check sees a gap and a duplicate (a check that cannot fail would prove nothing)."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from myshop.replicas import haproxy
from myshop.replicas.invariants import subscriber_saw_every_change_once


@pytest.mark.skipif(
    shutil.which("haproxy") is None, reason="needs Debian's haproxy (`make test` installs it)"
)
def test_haproxy_accepts_the_generated_configuration(tmp_path: Path) -> None:
    doors = [haproxy.Door("router", 14000, (14100, 14101)), haproxy.Door("orders", 14003, (14103, 14104))]
    path = tmp_path / "haproxy.cfg"
    path.write_text(haproxy.config(doors))

    checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)

    assert checked.returncode == 0, checked.stderr
    assert "option httpchk GET /health/ready" in path.read_text()
    assert "server orders-1 127.0.0.1:14104" in path.read_text()


def test_subscriber_check_names_a_missed_and_a_repeated_change() -> None:
    history = Counter({("o1", "PENDING"): 1, ("o1", "CONFIRMED"): 1, ("o2", "PENDING"): 1})
    seen = [("o1", "PENDING"), ("o1", "CONFIRMED"), ("o1", "CONFIRMED")]

    problems = subscriber_saw_every_change_once("partner-0", seen, history)

    assert len(problems) == 2
    assert "received twice" in problems[0] and "('o1', 'CONFIRMED')" in problems[0]
    assert "never received" in problems[1] and "('o2', 'PENDING')" in problems[1]


def test_subscriber_check_passes_every_change_once_in_any_order() -> None:
    history = Counter({("o1", "PENDING"): 1, ("o2", "PENDING"): 1})

    assert subscriber_saw_every_change_once("p", [("o2", "PENDING"), ("o1", "PENDING")], history) == []
