"""`GET /health/ready`: each subgraph reachable and answering `{ __typename }` within the timeout; in detail
for the ops token's holder, ready or not for everyone else (router/ops/access.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

# How long the public readiness answer is reused: a flood of `/health/ready` must not become a flood of
# subgraph probes.
PUBLIC_READY_SECONDS = 1.0


class Readiness:
    def __init__(self, timeout: float, when: str = "all") -> None:
        self.timeout = timeout
        self.verdict = all if when == "all" else any
        self._client: httpx.AsyncClient | None = None  # made by the first check: only readiness needs httpx

    async def report(self, subgraphs: Mapping[str, str]) -> tuple[bool, dict[str, Any]]:
        """(all ok, the body naming each subgraph with its status and latency)."""
        results = await asyncio.gather(*(self._probe(url) for url in subgraphs.values()))
        report = {
            name: {"url": url, **result}
            for (name, url), result in zip(subgraphs.items(), results, strict=True)
        }
        ok = self.verdict(result["status"] == "ok" for result in results)
        return ok, {"status": "ok" if ok else "unavailable", "service": "router", "subgraphs": report}

    async def _probe(self, url: str) -> dict[str, Any]:
        """One cheap query to a subgraph: reachable and answering GraphQL within the timeout."""
        import httpx

        client = self._client
        if client is None:
            client = self._client = httpx.AsyncClient(timeout=self.timeout)
        started = time.perf_counter()
        try:
            response = await client.post(
                url, content=b'{"query":"{ __typename }"}', headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
        latency = round((time.perf_counter() - started) * 1000, 2)
        if response.status_code != 200:
            return {"status": "error", "error": f"HTTP {response.status_code}", "latency_ms": latency}
        return {"status": "ok", "latency_ms": latency}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class PublicReadiness:
    """The public `/health/ready`: one probe of the subgraphs at a time, its verdict reused for a second."""

    def __init__(self, readiness: Readiness) -> None:
        self.readiness = readiness
        self._verdict: tuple[float, bool] | None = None
        self._probe: asyncio.Future[tuple[bool, dict[str, Any]]] | None = None

    async def ready(self, subgraphs: Mapping[str, str]) -> bool:
        verdict = self._verdict
        if verdict is not None and time.monotonic() - verdict[0] < PUBLIC_READY_SECONDS:
            return verdict[1]
        probe = self._probe
        if probe is None:
            probe = self._probe = asyncio.ensure_future(self.readiness.report(subgraphs))
            probe.add_done_callback(self._done)
        ok, _ = await asyncio.shield(probe)
        return ok

    def _done(self, probe: asyncio.Future[tuple[bool, dict[str, Any]]]) -> None:
        self._probe = None
        if not probe.cancelled() and probe.exception() is None:
            self._verdict = (time.monotonic(), probe.result()[0])
