"""What the executor needs of a subgraph client: one GraphQL request to one subgraph, answered or failed
(router/upstream/transport.py's SubgraphFetchError and its kinds). The resilient client is one; the
telemetry's instrumented client wraps one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class SubgraphClient(Protocol):
    async def post(
        self,
        graph: str,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        mutation: bool = False,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """The subgraph's GraphQL answer (a SubgraphAnswer when it came with a Cache-Control to keep) to
        `body` sent with the headers router.yaml's rules make of the client's `headers`. `deadline` (the
        event loop's clock) is when the request's time is up."""
        ...
