"""The suite's one way to wait for what happens in the background (relays, consumers, sagas, mail)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    until: Callable[[T], object] = bool,
    *,
    within: float = 15.0,
    every: float = 0.05,
    what: str = "",
) -> T:
    """Calls `probe` (a function or a coroutine function) until `until(value)` holds, and returns that value.

    Fails the test with the last value (and `what` it waited for) when `within` seconds pass first. `probe`
    runs once more after the deadline, so a slow machine that sleeps past it still gets a last look.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        late = loop.time() > deadline
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if until(value):
            return value  # type: ignore[return-value]
        if late:
            raise AssertionError(f"{what or 'condition'} not reached in {within} s; last: {value!r}")
        await asyncio.sleep(every)
