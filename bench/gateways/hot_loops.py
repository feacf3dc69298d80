"""The router's hot per-request loops timed alone, the pure-Python source against the module the router
imports (compiled when built, router/execution/compiled.py): the inputs of one gateways-benchmark request
(the nested query) are recorded in process, then each loop is run on fresh copies of them, in CPU time.

    .venv/bin/python bench/gateways/hot_loops.py [--repeat 300] [--rounds 5]

Prints, per loop, µs per request for each variant (the least of the rounds) and the ratio.
"""

from __future__ import annotations

import argparse
import importlib
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import uvloop

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from inprocess import benchmark_subgraphs, call  # noqa: E402
from run import NESTED_QUERY  # noqa: E402

from router.config import RouterConfig  # noqa: E402
from router.execution import compiled, executor  # noqa: E402
from router.execution.shaper import Shaper  # noqa: E402
from router.server import build_gateway, create_app  # noqa: E402


class Recorded:
    """One request's inputs to each hot loop, pickled where the loop mutates them (sharing kept)."""

    def __init__(self) -> None:
        self.walks: list[bytes] = []  # (tree, path) of each entities_at
        self.groups: list[tuple[Any, bytes]] = []  # (the fetch, its found entities)
        self.merges: list[tuple[bytes, frozenset[str]]] = []  # ((entities, owners), object types)
        self.shapes: list[tuple[Any, ...]] = []  # (shaper, selections, data, root type, variables)
        self.supergraph: Any = None


async def record(app: Any, body: bytes) -> Recorded:
    seen = Recorded()
    walk, grouped, merge_entities = (
        executor.entities_at,
        executor.Representations.grouped,
        executor.merge_entities,
    )

    def recording_walk(root: Any, path: tuple[str, ...], out: list[Any]) -> None:
        seen.walks.append(pickle.dumps((root, path)))
        walk(root, path, out)

    def recording_grouped(self: Any, fetch: Any) -> Callable[..., Any]:
        inner = grouped(self, fetch)

        def run(found: list[Any]) -> Any:
            seen.groups.append((fetch, pickle.dumps(found)))
            seen.supergraph = self.supergraph
            return inner(found)

        return run

    def recording_merge(entities: list[Any], owners: list[Any], object_types: frozenset[str]) -> None:
        seen.merges.append((pickle.dumps((entities, owners)), object_types))
        merge_entities(entities, owners, object_types)

    shape = Shaper.shape

    def recording_shape(
        self: Shaper, selections: Any, data: Any, root: Any, variables: Any, local: Any = None
    ) -> Any:
        seen.shapes.append((self, selections, pickle.dumps(data), root, variables))
        return shape(self, selections, data, root, variables, local)

    Shaper.shape = recording_shape  # type: ignore[method-assign]
    executor.entities_at = recording_walk
    executor.Representations.grouped = recording_grouped
    executor.merge_entities = recording_merge
    try:
        status, _ = await call(app, body)
        assert status == 200
    finally:
        executor.entities_at, executor.Representations.grouped = walk, grouped
        executor.merge_entities = merge_entities
        Shaper.shape = shape  # type: ignore[method-assign]
    return seen


def timed(run: Callable[[Any], None], prepare: Callable[[], Any], repeat: int) -> float:
    """µs CPU for one request's worth of `run(prepared)`, each on fresh inputs made just before (warm in the
    caches, as a request's own tree is), `prepare` outside the clock."""
    clock = time.process_time_ns
    total = 0
    for _ in range(repeat):
        prepared = prepare()
        start = clock()
        run(prepared)
        total += clock() - start
    return total / repeat / 1e3


def loops(seen: Recorded, paths: Any, representations: Any, merge: Any) -> dict[str, Callable[[int], float]]:
    def walks(repeat: int) -> float:
        def run(trees: list[Any]) -> None:
            for root, path in trees:
                paths.entities_at(root, path, [])

        return timed(run, lambda: [pickle.loads(w) for w in seen.walks], repeat)

    def groups(repeat: int) -> float:
        builders = {}
        for fetch, _ in seen.groups:
            if fetch not in builders:
                sg = seen.supergraph
                builders[fetch] = representations.Representations(sg).grouped(fetch)

        def run(found: list[Any]) -> None:
            for fetch, entities in found:
                builders[fetch](entities)

        return timed(run, lambda: [(f, pickle.loads(b)) for f, b in seen.groups], repeat)

    def merges(repeat: int) -> float:
        def run(answers: list[Any]) -> None:
            for (entities, owners), object_types in answers:
                merge.merge_entities(entities, owners, object_types)

        return timed(run, lambda: [(pickle.loads(b), t) for b, t in seen.merges], repeat)

    return {"entities_at": walks, "grouped (flat)": groups, "merge_entities": merges}


def main_async_factory(args: argparse.Namespace, sdl: str) -> Callable[[], Any]:
    async def main_async() -> int:
        config = RouterConfig(graphiql=False, log_level="WARNING")
        app = create_app(build_gateway(sdl, config), config)
        body = orjson.dumps({"query": NESTED_QUERY})
        for _ in range(20):
            await call(app, body)
        seen = await record(app, body)
        await app.pipeline.close()
        print(
            f"one request: {len(seen.walks)} walks, {len(seen.groups)} groupings "
            f"({sum(len(pickle.loads(b)) for _, b in seen.groups)} entities), {len(seen.merges)} merges, "
            f"{len(seen.shapes)} shapes; compiled modules: {compiled.compiled_modules() or 'none'}"
        )
        variants = {
            "pure": loops(seen, *(compiled.pure_module(n) for n in ("paths", "representations", "merge"))),
            "imported": loops(
                seen,
                *(
                    importlib.import_module(f"router.execution.{n}")
                    for n in ("paths", "representations", "merge")
                ),
            ),
        }
        results: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.rounds):
            for variant, measures in variants.items():
                for name, measure in measures.items():
                    results.setdefault(name, {}).setdefault(variant, []).append(measure(args.repeat))
        for name, by_variant in results.items():
            # The least of the rounds: CPU time only grows with the machine's other load.
            pure, imported = (min(by_variant[v]) for v in ("pure", "imported"))
            print(f"{name:16} pure {pure:7.1f} µs  imported {imported:7.1f} µs  x{pure / imported:.2f}")
        # The shaper (generated per operation; not compiled): its share, for reference.
        shapes = [(s, sel, pickle.loads(d), r, v) for s, sel, d, r, v in seen.shapes]
        start = time.process_time()
        for _ in range(args.repeat):
            for shaper, selections, data, root, variables in shapes:
                shaper.shape(selections, data, root, variables)
        shape_us = (time.process_time() - start) / args.repeat * 1e6
        print(f"{'shape':16} {shape_us:7.1f} µs")
        return 0

    return main_async


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with benchmark_subgraphs("bench-hot-loops-") as sdl:
        return uvloop.run(main_async_factory(args, sdl)())


if __name__ == "__main__":
    sys.exit(main())
