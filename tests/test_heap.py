"""shared.heap.settle_heap, as a server process runs it before serving (in a process of its own: a frozen
object is never collected, so the test process must not freeze its own heap)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from shared.heap import GC_YOUNG_THRESHOLD, settle_heap
from subgraphs.products.app import build_app
app = build_app()  # a service's schema, mappings and app: what lives as long as the process
assert gc.get_freeze_count() == 0
settle_heap()
frozen = gc.get_freeze_count()
young = [object() for _ in range(10)]
print(frozen, gc.get_threshold()[0], GC_YOUNG_THRESHOLD, len(gc.get_objects(generation=2)))
"""


def test_a_settled_heap_hides_what_was_built_from_the_collector_and_collects_young_ones_less_often() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    frozen, threshold, expected, left = map(int, done.stdout.split())
    # The service's objects (hundreds of thousands) are out of every collection's reach; the old generation
    # a full collection walks is all but empty.
    assert frozen > 100_000
    assert left < frozen / 100
    assert threshold == expected == 7_000
