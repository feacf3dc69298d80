"""Supergraph hot reload: the router polls its supergraph file and swaps in a gateway built from a new one.

`Serving` holds the gateway new requests run on. A request runs to its end on the gateway it started on
(`Lease`); a retired gateway closes its subgraph
clients once its last request is done. A file that does not build (unparseable, not a supergraph, a schema the
router cannot serve) is refused with an ERROR line and the serving gateway stays. Every attempt counts in
`myshop_router_supergraph_reloads_total{result}`; touching the file without changing it does nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# A retired gateway whose requests are still running after this long is closed anyway (they have long since
# timed out towards their subgraphs).
RETIRE_GRACE_SECONDS = 300.0


class Retirable(Protocol):
    """What a reload needs of a gateway: its metrics (on `/metrics` while it serves) and a way to close it."""

    def register_metrics(self, registry: CollectorRegistry) -> None: ...

    async def close(self) -> None: ...


G = TypeVar("G", bound=Retirable)


class Lease(Generic[G]):
    """A gateway and the number of requests running on it."""

    __slots__ = ("_idle", "active", "gateway")

    def __init__(self, gateway: G) -> None:
        self.gateway = gateway
        self.active = 0
        self._idle: asyncio.Event | None = None

    def enter(self) -> Lease[G]:
        self.active += 1
        return self

    def exit(self) -> None:
        self.active -= 1
        if self.active == 0 and self._idle is not None:
            self._idle.set()

    async def retire(self, grace: float = RETIRE_GRACE_SECONDS) -> None:
        """Waits for the requests in flight (at most `grace` seconds), then closes the gateway."""
        if self.active:
            self._idle = asyncio.Event()
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except TimeoutError:
                logger.warning("closing the previous gateway with %d requests still running", self.active)
        try:
            await self.gateway.close()
        except Exception:
            logger.exception("closing the previous gateway failed")


class Serving(Generic[G]):
    """The gateway new requests run on: `enter()` leases it for one request (`exit()` the lease when done);
    a reload `swap`s in another."""

    __slots__ = ("lease",)

    def __init__(self, gateway: G) -> None:
        self.lease = Lease(gateway)

    @property
    def gateway(self) -> G:
        return self.lease.gateway

    def enter(self) -> Lease[G]:
        return self.lease.enter()

    def swap(self, gateway: G) -> Lease[G]:
        """New requests go to `gateway`; the previous lease is returned (to `retire`)."""
        old, self.lease = self.lease, Lease(gateway)
        return old


class GatewayMetrics(Collector):
    """The serving gateway's own metrics (its `register_metrics`), following it through reloads."""

    def __init__(self, gateway: Retirable) -> None:
        self.use(gateway)

    def use(self, gateway: Retirable) -> None:
        registry = CollectorRegistry(auto_describe=True)
        gateway.register_metrics(registry)
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class SupergraphWatcher(Generic[G]):
    """Polls `path` every `interval` s; `serving` follows the file's last good version, and `on_swap` is told
    of each new gateway (its metrics and telemetry attached there)."""

    def __init__(
        self,
        serving: Serving[G],
        path: Path,
        build: Callable[[str], G],
        *,
        on_swap: Callable[[G], None] = lambda gateway: None,
        interval: float = 1.0,
        registry: CollectorRegistry | None = None,
        loaded: str | None = None,
    ) -> None:
        self.serving = serving
        self.path = path
        self.build = build
        self.on_swap = on_swap
        self.interval = interval
        self._stat = self._signature()
        self._digest = _digest(loaded if loaded is not None else self._read())
        self._retiring: dict[asyncio.Task[None], Lease[G]] = {}
        self.reloads = Counter(
            "myshop_router_supergraph_reloads",
            "Supergraph file changes the router tried to load, by result (success, failure).",
            ["result"],
            registry=registry,
        )
        self.loaded_at = Gauge(
            "myshop_router_supergraph_loaded_timestamp_seconds",
            "When the supergraph being served was loaded (Unix time).",
            registry=registry,
        )
        self.loaded_at.set(time.time())

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def _read(self) -> str:
        return self.path.read_text(encoding="utf-8")

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:  # never let the watcher die: the next change must still be seen
                logger.exception("checking the supergraph file failed")

    async def check(self) -> bool:
        """Loads the file if it changed; True when a new gateway now serves."""
        signature = self._signature()
        if signature is None or signature == self._stat:
            return False  # unchanged, or gone for a moment (an editor replacing it): keep serving
        self._stat = signature  # a bad version is refused once, not every second until it changes
        try:
            text = await asyncio.to_thread(self._read)
        except (OSError, UnicodeDecodeError) as exc:
            logger.error("supergraph reload refused: cannot read %s: %s", self.path, exc)
            self.reloads.labels("failure").inc()
            return False
        digest = _digest(text)
        if digest == self._digest:
            return False
        started = time.perf_counter()
        try:
            # Parsing and building the API schema take a while: off the event loop, which keeps serving.
            gateway = await asyncio.to_thread(self.build, text)
        except Exception as exc:
            logger.error(
                "supergraph reload refused: %s is not a supergraph the router can serve (%s: %s); "
                "the previous one keeps serving",
                self.path,
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
            )
            self.reloads.labels("failure").inc()
            return False
        self._digest = digest
        self.swap(gateway)
        self.reloads.labels("success").inc()
        self.loaded_at.set(time.time())
        logger.info(
            "supergraph reloaded from %s (sha256 %s, built in %.0f ms)",
            self.path,
            digest[:12],
            (time.perf_counter() - started) * 1000,
        )
        return True

    def swap(self, gateway: G) -> None:
        """New requests go to `gateway`; the old one closes once its requests are done."""
        old = self.serving.swap(gateway)
        self.on_swap(gateway)
        task = asyncio.create_task(old.retire())
        self._retiring[task] = old
        task.add_done_callback(self._retiring.pop)

    async def close(self) -> None:
        """At shutdown: closes the retired gateways now (a subscription may hold one for a long time)."""
        retiring = list(self._retiring.items())
        for task, _ in retiring:
            task.cancel()
        await asyncio.gather(*(task for task, _ in retiring), return_exceptions=True)
        for task, lease in retiring:
            if task.cancelled():
                try:
                    await lease.gateway.close()
                except Exception:
                    logger.exception("closing a previous gateway failed")
