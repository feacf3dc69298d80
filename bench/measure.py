"""What the benchmark scripts share: a percentile of latencies, a timed run of concurrent calls, and a GraphQL
call over aiohttp (not httpx: at 50 concurrent requests httpx's own CPU would be what a benchmark measures).
Scripts import it as `measure` (they run as `python bench/<name>.py`, so this folder is on their path)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run_calls(
    clients: int, total: int, one: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """(calls per second, each call's latency) of `total` calls `one(index)`, `clients` at a time."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for index in counter:
            started = time.perf_counter()
            await one(index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return total / (time.perf_counter() - started), latencies


async def gql(client: aiohttp.ClientSession, url: str, query: str, variables: dict, token: str) -> dict:
    """The `data` of a GraphQL call with a bearer token; RuntimeError on any error."""
    async with client.post(
        url, json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        body = await response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]
