"""The background runs of orders' leased processes (the order saga, a received return) in one process: one
task per id, their leases renewed while they run (all of them in one statement every third of the lease),
every task cancelled at shutdown, and the recovery loop that takes over the runs of dead processes. What a
run does is its owner's (saga.py, returns_process.py)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

# (session, ids, owner, lease seconds) -> those whose lease it extended (still ours; a row a step of its run
# holds right now is skipped, and renewed the next time).
RenewLeases = Callable[[AsyncSession, list[uuid.UUID], str, float], Awaitable[set[uuid.UUID]]]
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
        renew: RenewLeases,
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
        # Renews the leases of every run of `_running` while there is one. One statement a round, whatever
        # the number of runs: a task per run made a transaction per run and round (with 100 orders in flight
        # and a 3 s lease, 100 a second, queued with the sagas' own for the pool, which made leases lapse).
        self._heartbeat: asyncio.Task[None] | None = None

    def start(self, run_id: uuid.UUID, *, announced: bool = False) -> asyncio.Task[None]:
        """Drive the run in the background (a request that stops waiting does not stop it); one task per id.

        `announced`: its next step's STARTED is already recorded (by the transaction that began it).
        """
        task = self._running.get(run_id)
        if task is None or task.done():
            task = asyncio.create_task(self._run(run_id, announced), name=f"{self.kind}:{run_id}")
            self._running[run_id] = task
            task.add_done_callback(lambda _: self._running.pop(run_id, None))
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._renew_leases(), name=f"{self.kind} leases")
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
        if self._heartbeat is not None:
            tasks.append(self._heartbeat)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, run_id: uuid.UUID, announced: bool) -> None:
        try:
            await self.drive(run_id, announced)
        except LeaseLost:
            logger.warning("%s %s: lease lost, another process drives it now", self.kind, run_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Nothing is lost: the lease runs out and the recovery worker tries again.
            logger.exception("%s %s: interrupted", self.kind, run_id)

    async def _renew_leases(self) -> None:
        """Every third of the lease, the leases of the runs of this process, until none runs. A run whose
        lease another process took is not told here: its next write finds out (LeaseLost)."""
        while self._running:
            await asyncio.sleep(self.lease_seconds / 3)
            ids = list(self._running)
            if not ids:
                break
            try:
                async with self.sessionmaker() as session, session.begin():
                    await self.renew(session, ids, self.owner, self.lease_seconds)
            except Exception:  # the database unreachable for a moment: the next round tries again
                logger.warning("%s leases not renewed this round", self.kind, exc_info=True)


async def recover_forever(kind: str, recover_once: Callable[[], Awaitable[int]], interval: float) -> None:
    """A recovery worker: every `interval` seconds, take over the runs whose lease ran out."""
    while True:
        try:
            await recover_once()
        except Exception:
            logger.exception("%s recovery pass failed", kind)
        await asyncio.sleep(interval)
