"""Benchmark: what the input-hygiene check (shared/input_hygiene.py) costs a request, in process.

Two measurements, each with and without the check in the same run (the reference is Strawberry's own
executor, which the check extends):

1. the executor's `build` alone (variable coercion, plus the check) for the operations below;
2. a whole operation through a subgraph schema made by `shared.graphql.build_schema` (every shared
   extension: caches, error codes, the request transaction), resolvers that touch no database.

    .venv/bin/python bench/input_hygiene.py [--rounds 5] [--number 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import strawberry  # noqa: E402
from graphql import parse  # noqa: E402
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext  # noqa: E402

from shared.graphql import build_schema  # noqa: E402
from shared.input_hygiene import InputHygieneExecutor  # noqa: E402


@strawberry.input
class LineInput:
    product_id: strawberry.ID
    quantity: int


@strawberry.input
class PlaceInput:
    items: list[LineInput]
    payment_method: str
    idempotency_key: str


@strawberry.type
class Query:
    @strawberry.field
    def search(self, text: str | None = None, category: str | None = None, first: int = 10) -> int:
        return first


@strawberry.type
class Mutation:
    @strawberry.mutation
    def place(self, input: PlaceInput) -> int:
        return len(input.items)


OPERATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "no arguments": ("{ __typename }", {}),
    "2 string variables": (
        "query Search($text: String, $category: String) "
        "{ search(text: $text, category: $category, first: 5) }",
        {"text": "blue mug", "category": "Kitchen"},
    ),
    "input of 3 lines": (
        "mutation Place($input: PlaceInput!) { place(input: $input) }",
        {
            "input": {
                "items": [
                    {"productId": f"6f1c1c3e-0000-4000-8000-00000000000{i}", "quantity": 1} for i in range(3)
                ],
                "paymentMethod": "tok_approve",
                "idempotencyKey": "b7d5c0c4a1e0",
            }
        },
    ),
}


def best_of_interleaved(rounds: int, number: int, runs: list[Any]) -> list[float]:
    """Each run's fastest round in µs of this process's CPU per call. Rounds alternate between the runs and
    count CPU time, not wall time: a machine busy with other work (other test suites) shifts both alike."""
    best = [float("inf")] * len(runs)
    for _ in range(rounds):
        for index, run in enumerate(runs):
            started = time.process_time()
            for _ in range(number):
                run()
            best[index] = min(best[index], (time.process_time() - started) / number * 1e6)
    return best


def report(name: str, row: list[float]) -> None:
    print(f"  {name:22} without {row[0]:7.2f}   with {row[1]:7.2f}   (+{row[1] - row[0]:.2f})")


def measure_build(rounds: int, number: int) -> None:
    schema = build_schema(query=Query, mutation=Mutation)
    print(f"executor build, µs per operation (best of {rounds} x {number}):")
    for name, (query, variables) in OPERATIONS.items():
        document = parse(query)
        runs = [
            lambda e=executor, d=document, v=variables: e.build(schema._schema, d, raw_variable_values=v)
            for executor in (StrawberryGraphQLCoreExecutionContext, InputHygieneExecutor)
        ]
        for run in runs:
            assert not isinstance(run(), list)
        report(name, best_of_interleaved(rounds, number, runs))


class _Context:
    """What the shared extensions read of a request's context, without a database."""

    def __init__(self) -> None:
        self.runtime = SimpleNamespace(metrics=None)

    async def finish(self, *, commit: bool) -> None:
        return None


async def measure_execute(rounds: int, number: int) -> None:
    schemas = []
    for executor in (StrawberryGraphQLCoreExecutionContext, InputHygieneExecutor):
        schema = build_schema(query=Query, mutation=Mutation)
        schema.execution_context_class = executor
        schemas.append(schema)
    print(f"whole operation through build_schema's schema, µs per operation (best of {rounds} x {number}):")
    for name, (query, variables) in OPERATIONS.items():
        best = [float("inf")] * len(schemas)
        for _ in range(rounds):
            for index, schema in enumerate(schemas):
                started = time.process_time()
                for _ in range(number):
                    result = await schema.execute(query, variables, context_value=_Context())
                best[index] = min(best[index], (time.process_time() - started) / number * 1e6)
                assert not result.errors, result.errors
        report(name, best)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}")
    measure_build(args.rounds, args.number)
    asyncio.run(measure_execute(args.rounds, max(1, args.number // 4)))


if __name__ == "__main__":
    main()
