"""The chaos run's long form: `python bench/chaos.py --duration 120` starts every subgraph and the router
twice behind HAProxy (over a PostgreSQL and a Redis of its own), runs 20 clients and 3 partners while a
replica is SIGKILLed every few seconds and Redis and PostgreSQL are restarted once, then prints the
figures and the invariants (`myshop chaos` does the same). tests/chaos runs a 30-second form in the suite.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from myshop.replicas.chaos import Plan
from myshop.replicas.run import chaos_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load and failures")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--partners", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="kept: servers, data and logs of the run")
    args = parser.parse_args()
    plan = Plan(duration=args.duration, clients=args.clients, partners=args.partners)
    return chaos_run(args.dir, plan, Console(highlight=False, soft_wrap=True))


if __name__ == "__main__":
    sys.exit(main())
