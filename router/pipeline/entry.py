"""The one way in: every door (HTTP, SSE, WebSocket) hands its request to `Pipeline`, which runs the same
steps for all of them:

    request span and metrics (router/ops/telemetry.py)
    → lease on the serving gateway (router/ops/reload.py: a hot reload waits for it)
    → edge: size limit → persisted query → edge auth → rate limit (router/pipeline/edge/)
    → router.yaml's plugins, when configured: router-request hooks, then after the stages below the
      router-response hooks (router/pipeline/plugins.py)
    → the gateway's stages: parse → bound → validate → select → coerce → plan → execute → shape
      (router/pipeline/gateway.py)

and answers either a response or RequestError (its errors, HTTP status and headers; an unexpected failure
becomes INTERNAL, logged once here). A door only reads its transport into a GraphQLRequest and frames what
comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from router.execution.incremental import IncrementalStream
from router.execution.subscription import SubscriptionStream
from router.ops.reload import Lease, Serving
from router.ops.telemetry import RequestTelemetry, RouterTelemetry
from router.pipeline.edge import Edge
from router.pipeline.errors import RequestError, internal_error
from router.pipeline.plugins import run_with_plugins
from router.pipeline.request import GraphQLRequest
from router.plugins import PluginChain

logger = logging.getLogger(__name__)


class ServedGateway(Protocol):
    """What the pipeline needs of a gateway (router/pipeline/gateway.py's Gateway; tests' stand-ins)."""

    subgraphs: Mapping[str, str]  # name -> URL, for readiness checks

    async def run(
        self, request: GraphQLRequest
    ) -> dict[str, Any] | SubscriptionStream | IncrementalStream: ...

    def register_metrics(self, registry: CollectorRegistry) -> None: ...

    def attach_telemetry(self, telemetry: RouterTelemetry) -> None: ...

    async def close(self) -> None: ...


class Pipeline:
    def __init__(self, serving: Serving[ServedGateway], edge: Edge, telemetry: RouterTelemetry) -> None:
        self.serving = serving
        self.edge = edge
        self.telemetry = telemetry
        # router.yaml's plugins (router/pipeline/plugins.py), set by router/server.py; None: none configured.
        self.plugins: PluginChain | None = None

    async def execute(self, request: GraphQLRequest) -> dict[str, Any]:
        """The one response of a request on a door that cannot stream (HTTP)."""
        record = self.telemetry.begin(request.headers)
        lease = self.serving.enter()
        try:
            try:
                await self.edge.admit(request)
                if self.plugins is None:
                    answer = await lease.gateway.run(request)
                else:
                    answer = await run_with_plugins(self.plugins, request, lease.gateway.run)
            except Exception as exc:
                raise _refusal(exc, record) from None
            assert isinstance(answer, dict)  # a subscription was refused: this door cannot stream
            record.answered(answer.get("errors"))
            return answer
        finally:
            lease.exit()
            record.operation = request.operation
            self.telemetry.end(record)

    async def start(self, request: GraphQLRequest) -> Started:
        """The answer of a request on a streaming door (SSE, WebSocket): a response, or a subscription's
        stream. The lease and the request span last until `Started.close()`, which the door calls in the
        same task (the span's context is that task's)."""
        record = self.telemetry.begin(request.headers)
        lease = self.serving.enter()
        try:
            try:
                await self.edge.admit(request)
                if self.plugins is None:
                    answer = await lease.gateway.run(request)
                else:
                    answer = await run_with_plugins(self.plugins, request, lease.gateway.run)
            except Exception as exc:
                raise _refusal(exc, record) from None
        except BaseException:
            lease.exit()
            record.operation = request.operation
            self.telemetry.end(record)
            raise
        record.answered(answer.get("errors") if isinstance(answer, dict) else None)
        return Started(answer, request, lease, record, self.telemetry)

    async def close(self) -> None:
        await self.edge.close()
        await self.telemetry.close()
        await self.serving.gateway.close()
        if self.plugins is not None:
            await self.plugins.close()


def _refusal(exc: Exception, record: RequestTelemetry) -> RequestError:
    """What the request answers when a step raised `exc`: its own refusal, or INTERNAL for anything else
    (logged here, once, with its stack; the client never sees it)."""
    if isinstance(exc, RequestError):
        record.rejected(exc.errors)
        return exc
    logger.error("the router failed on a request", exc_info=exc)
    return internal_error()


class Started:
    """A streaming door's answer: `response` (a query or mutation), `stream` (a subscription) or `parts` (a
    query with @defer)."""

    __slots__ = ("_lease", "_record", "_request", "_telemetry", "parts", "response", "stream")

    def __init__(
        self,
        answer: dict[str, Any] | SubscriptionStream | IncrementalStream,
        request: GraphQLRequest,
        lease: Lease[ServedGateway],
        record: RequestTelemetry,
        telemetry: RouterTelemetry,
    ) -> None:
        self.response = answer if isinstance(answer, dict) else None
        self.stream = answer if isinstance(answer, SubscriptionStream) else None
        self.parts = answer if isinstance(answer, IncrementalStream) else None
        self._request = request
        self._lease = lease
        self._record = record
        self._telemetry = telemetry

    async def close(self) -> None:
        """Ends the stream (its subgraph subscription and socket closed), the lease and the span."""
        try:
            if self.stream is not None:
                await self.stream.aclose()
                if self.stream.ended_by in ("error", "connection_lost"):
                    self._record.outcome = "error"
            if self.parts is not None:
                await self.parts.aclose()
        finally:
            self._lease.exit()
            self._record.operation = self._request.operation
            self._telemetry.end(self._record)
