"""The background runs of orders' leased processes (the order saga, a received return) in one process: one
task per id, its lease renewed while it runs, every task cancelled at shutdown, and the recovery loop that
takes over the runs of dead processes. What a run does is its owner's (saga.py, returns_process.py)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

# (session, id, owner, lease seconds) -> whether the lease is still ours (and now extended).
RenewLease = Callable[[AsyncSession, uuid.UUID, str, float], Awaitable[bool]]
# (session, owner, lease seconds, limit) -> the runs whose lease ran out, now leased to `owner` (SKIP LOCKED).
ClaimAbandoned = Callable[[AsyncSession, str, float, int], Awaitable[list[uuid.UUID]]]
Drive = Callable[[uuid.UUID, bool], Awaitable[None]]


class LeaseLost(Exception):
    """Another process took this run over (ours looked dead): stop driving it."""


class LeasedRuns:
    def __init__(
        self,
        kind: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        lease_seconds: float,
        renew: RenewLease,
        claim_abandoned: ClaimAbandoned,
        drive: Drive,
        recovered: Callable[[], None] = lambda: None,
    ) -> None:
        self.kind = kind
        self.sessionmaker = sessionmaker
        self.lease_seconds = lease_seconds
        self.renew = renew
        self.claim_abandoned = claim_abandoned
        self.drive = drive
        self.recovered = recovered
        # Unique per process start: a restarted process does not own its previous life's leases.
        self.owner = uuid.uuid4().hex[:12]
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}

    def start(self, run_id: uuid.UUID, *, announced: bool = False) -> asyncio.Task[None]:
        """Drive the run in the background (a request that stops waiting does not stop it); one task per id.

        `announced`: its next step's STARTED is already recorded (by the transaction that began it).
        """
        task = self._running.get(run_id)
        if task is None or task.done():
            task = asyncio.create_task(self._run(run_id, announced), name=f"{self.kind}:{run_id}")
            self._running[run_id] = task
            task.add_done_callback(lambda _: self._running.pop(run_id, None))
        return task

    async def wait_here(self, run_id: uuid.UUID, seconds: float) -> bool:
        """Until the run of `run_id` in this process ends, or `seconds`; False when it does not run here."""
        task = self._running.get(run_id)
        if task is None:
            return False
        try:
            await asyncio.wait_for(asyncio.shield(task), seconds)
        except TimeoutError:
            pass
        return True

    async def recover_once(self, limit: int = 20) -> int:
        """Take over the runs whose lease ran out (their process died); returns how many were started here."""
        async with self.sessionmaker() as session, session.begin():
            ids = await self.claim_abandoned(session, self.owner, self.lease_seconds, limit)
        for run_id in ids:
            logger.warning("recovering %s %s", self.kind, run_id)
            self.recovered()
            self.start(run_id)
        return len(ids)

    async def stop(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, run_id: uuid.UUID, announced: bool) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(run_id))
        try:
            await self.drive(run_id, announced)
        except LeaseLost:
            logger.warning("%s %s: lease lost, another process drives it now", self.kind, run_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Nothing is lost: the lease runs out and the recovery worker tries again.
            logger.exception("%s %s: interrupted", self.kind, run_id)
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, run_id: uuid.UUID) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            async with self.sessionmaker() as session, session.begin():
                if not await self.renew(session, run_id, self.owner, self.lease_seconds):
                    return


async def recover_forever(kind: str, recover_once: Callable[[], Awaitable[int]], interval: float) -> None:
    """A recovery worker: every `interval` seconds, take over the runs whose lease ran out."""
    while True:
        try:
            await recover_once()
        except Exception:
            logger.exception("%s recovery pass failed", kind)
        await asyncio.sleep(interval)
