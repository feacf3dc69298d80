"""How the router calls its subgraphs (`traffic:` in router.yaml): subgraph timeouts, circuit breakers,
retries, deduplication and the request timeout.

```yaml
traffic:
  request_timeout: 60s
  all: {timeout: 35s, retries: 1, breaker: {failures: 5, window: 10s, cooldown: 5s}}
  subgraphs:
    payments: {timeout: 3s}
```

Durations as router/durations.py reads them (`2.5`, `500ms`, `3s`, `1m`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from router.durations import Seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BreakerConfig(_Strict):
    """A subgraph's circuit breaker: `failures` failed attempts in a row, none more than `window` after the
    first, open it; after `cooldown` one probe goes through (success closes it, failure re-opens it)."""

    enabled: bool = True
    failures: int = Field(5, ge=1)
    window: Seconds = Field(10.0, gt=0)
    cooldown: Seconds = Field(5.0, gt=0)


class SubgraphTrafficConfig(_Strict):
    """How the router calls one subgraph. In `subgraphs:` only the fields given override `all:`."""

    # Longer than orders' `placeOrder` waits for its saga (30 s), the longest a subgraph answers on purpose.
    timeout: Seconds = Field(35.0, gt=0)
    # Retries of a failed query fetch (connection refused/reset, timeout, 5xx); a mutation is never retried.
    retries: int = Field(1, ge=0, le=5)
    # The first retry waits up to this long (full jitter), each next one up to twice as long.
    retry_backoff: Seconds = Field(0.05, ge=0)
    breaker: BreakerConfig = BreakerConfig()
    # Identical query fetches in flight at once (same subgraph, text, variables and headers) share one answer.
    deduplicate: bool = True


class TrafficConfig(_Strict):
    # A request still running after this answers with what it has and a GATEWAY_TIMEOUT error (504 if no
    # data at all).
    request_timeout: Seconds = Field(60.0, gt=0)
    all: SubgraphTrafficConfig = SubgraphTrafficConfig()
    # Subgraph name -> the fields of `all` it sets otherwise.
    subgraphs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Client headers that differ per request without changing a subgraph's answer: left out of the
    # deduplication key (every other forwarded header, Authorization first, is part of it). The client
    # address (`x-forwarded-for`, the router's own) is one: only mutations (never deduplicated) act on it,
    # so identical queries of two clients still share one fetch, as they did before the router set it.
    dedup_ignored_headers: frozenset[str] = frozenset(
        {"x-request-id", "traceparent", "tracestate", "user-agent", "x-forwarded-for"}
    )

    def for_subgraph(self, name: str) -> SubgraphTrafficConfig:
        override = self.subgraphs.get(name)
        if not override:
            return self.all
        values = self.all.model_dump()
        for key, value in override.items():
            if key == "breaker" and isinstance(value, dict):
                values["breaker"] = {**values["breaker"], **value}
            else:
                values[key] = value
        return SubgraphTrafficConfig.model_validate(values)
