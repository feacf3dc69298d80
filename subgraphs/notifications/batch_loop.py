"""The loop of notifications' two senders (mail: sender.py; webhooks: webhooks_dispatch.py): claim and work a
batch while there is work, else wait; ride out a database outage; cancelled, let the batch in hand finish."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from shared.backoff import Backoff

logger = logging.getLogger(__name__)

# Waits between tries to reach the database while it is away.
DATABASE_BACKOFF = Backoff(0.5, 30.0)


async def run_batches(
    what: str,
    batch: Callable[[], Awaitable[int]],
    *,
    batch_size: int,
    poll_seconds: float,
    finish_seconds: float,
    stopping: Callable[[], None],
) -> None:
    """Run `batch` (claims up to `batch_size` items, works them, answers how many it claimed) again at once
    while batches come back full, else after `poll_seconds`. Never returns. Cancelled, it calls `stopping`
    (the batch starts nothing more and gives back what it has not begun) and waits up to `finish_seconds`
    for the work in flight before cancelling it."""
    outages = 0
    while True:
        round_ = asyncio.ensure_future(batch())
        try:
            claimed = await asyncio.shield(round_)
        except asyncio.CancelledError:
            stopping()
            done, _ = await asyncio.wait({round_}, timeout=finish_seconds)
            if not done:
                round_.cancel()
            elif not round_.cancelled():
                round_.exception()
            raise
        except (SQLAlchemyError, OSError) as exc:
            outages += 1
            backoff = DATABASE_BACKOFF.delay(outages)
            logger.warning("%s cannot reach its database (%s); retrying in %.1f s", what, exc, backoff)
            await asyncio.sleep(backoff)
            continue
        outages = 0
        await asyncio.sleep(poll_seconds if claimed < batch_size else 0)
