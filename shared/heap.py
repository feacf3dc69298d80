"""A server process's heap, settled once before it serves: what is built by then (code, schemas, the
supergraph, ORM mappings) lives as long as the process, so it is frozen out of the cycle collector's sight,
and young collections come less often. The router and every subgraph process call `settle_heap()` just
before their server runs; tests, which start servers as threads of one process, do not (a frozen object is
never collected)."""

from __future__ import annotations

import gc

# Allocations between two young collections. A request in flight holds its merged tree (~1,000 containers on
# the gateways benchmark), and fifty of them were walked again by every young collection of CPython's default
# (700): 60 µs of CPU a request went to the collector, ~20 with this (bench/gateways/inprocess.py). The cycles
# it finds are rare (reference counting frees the trees), so a later collection holds little more memory.
GC_YOUNG_THRESHOLD = 7_000


def settle_heap() -> None:
    """Before serving: a full collection no longer walks what is built so far (30-80 ms each, a pause every
    request in flight waited out: bench/edge_bombs.py's 80 ms outliers on the router). Objects replaced later
    (a gateway by a hot reload) are then freed by reference counting only. Young collections come less often
    (GC_YOUNG_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)
