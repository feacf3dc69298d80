"""The router's telemetry: a SERVER span per request, a span per plan node, a CLIENT span per subgraph fetch
(OpenTelemetry) whose context each subgraph continues, and the GraphQL metrics of `/metrics`.

Tracing is on when the app has a tracer provider (one handed to `create_app`, or OTLP/HTTP configured in the
environment, see `shared.telemetry`). Off, a request costs a few dict and contextvar operations: the client's
valid `traceparent` is passed on as it is, or a new one (not sampled) is made, so the subgraphs' logs of one
request still share a trace id.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from contextvars import Token
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from prometheus_client import CollectorRegistry

from router.ops.metrics import GraphQLMetrics
from router.planner.nodes import Condition, Flatten, PlanNode
from router.upstream.client import SubgraphClient
from shared.log import traceparent_var
from shared.telemetry import (
    TRACEPARENT,
    TRACESTATE,
    inject,
    new_traceparent,
    parent_context,
    provider_from_env,
    traceparent_of,
    tracer_of,
    valid_traceparent,
)

if TYPE_CHECKING:
    from graphql import OperationDefinitionNode

    # The SDK is imported where a provider is made (shared.telemetry): unused without an OTLP endpoint.
    from opentelemetry.sdk.trace import TracerProvider


class Instrumentable(Protocol):
    """What the telemetry instruments (router/execution/executor.py's Executor): the subgraph client its
    fetches go through, and the tracer of its plan-node spans."""

    client: SubgraphClient
    tracer: Tracer | None


class RequestTelemetry:
    """One GraphQL request's span (when tracing), start time, operation and outcome."""

    __slots__ = (
        "_context_token",
        "_traceparent_token",
        "errors",
        "operation",
        "outcome",
        "span",
        "started",
    )

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.span: Span | None = None
        # The operation the pipeline selected (None when the request failed before).
        self.operation: OperationDefinitionNode | None = None
        # ok, error (an answer with errors), rejected (a request error), failed (a 500, or never answered).
        self.outcome = "failed"
        self.errors: list[Any] | None = None
        self._context_token: object = None
        self._traceparent_token: Token[str | None] | None = None

    def answered(self, errors: list[Any] | None) -> None:
        self.outcome, self.errors = ("error", errors) if errors else ("ok", None)

    def rejected(self, errors: list[Any]) -> None:
        self.outcome, self.errors = "rejected", errors


class RouterTelemetry:
    def __init__(
        self,
        registry: CollectorRegistry,
        provider: TracerProvider | None = None,
        *,
        owns_provider: bool = False,
    ) -> None:
        self.metrics = GraphQLMetrics("router", registry)
        self.provider = provider
        self.tracer: Tracer | None = tracer_of(provider)
        self._owns_provider = owns_provider

    @classmethod
    def create(cls, registry: CollectorRegistry, provider: TracerProvider | None = None) -> RouterTelemetry:
        """With `provider` (tests, benchmarks), else OTLP/HTTP when the environment configures it."""
        if provider is not None:
            return cls(registry, provider)
        provider = provider_from_env("router")
        return cls(registry, provider, owns_provider=provider is not None)

    def instrument(self, executor: Instrumentable, names: Mapping[str, str]) -> None:
        """Fetch metrics and spans around `executor.client` (graph -> subgraph `names`); plan-node spans."""
        client = executor.client
        if isinstance(client, InstrumentedSubgraphClient):
            client = client.inner
        executor.client = InstrumentedSubgraphClient(client, names, self.metrics, self.tracer)
        executor.tracer = self.tracer

    # --- a request ----------------------------------------------------------------------------------

    def begin(self, headers: dict[str, str]) -> RequestTelemetry:
        """Called with the headers the subgraphs will get: the trace context they continue is set in them."""
        request = RequestTelemetry()
        incoming = headers.get(TRACEPARENT)
        valid = valid_traceparent(incoming)
        if not valid and incoming is not None:
            del headers[TRACEPARENT]
            headers.pop(TRACESTATE, None)
        tracer = self.tracer
        if tracer is None:
            if not valid:
                headers.pop(TRACESTATE, None)
                incoming = headers[TRACEPARENT] = new_traceparent()
            request._traceparent_token = traceparent_var.set(incoming)
        else:
            span = tracer.start_span(
                "graphql.request", context=parent_context(headers) if valid else None, kind=SpanKind.SERVER
            )
            request.span = span
            request._context_token = otel_context.attach(trace.set_span_in_context(span))
            request._traceparent_token = traceparent_var.set(traceparent_of(span))
        return request

    def end(self, request: RequestTelemetry) -> None:
        operation = request.operation
        outcome, errors = request.outcome, request.errors
        kind = operation.operation.value if operation is not None else "unknown"
        self.metrics.observe_operation(kind, outcome, time.perf_counter() - request.started)
        codes: list[str] = []
        if errors:
            for error in errors:
                extensions = error.get("extensions") if isinstance(error, dict) else None
                code = extensions.get("code") if isinstance(extensions, dict) else None
                code = str(code) if code else "UNKNOWN"
                self.metrics.count_error(code)
                codes.append(code)
        if request._traceparent_token is not None:
            traceparent_var.reset(request._traceparent_token)
        span = request.span
        if span is None:
            return
        name = operation.name.value if operation is not None and operation.name is not None else None
        span.update_name(f"{kind} {name}" if name else kind)
        span.set_attribute("graphql.operation.type", kind)
        if name:
            span.set_attribute("graphql.operation.name", name)
        span.set_attribute("myshop.outcome", outcome)
        if codes:
            distinct = sorted(set(codes))
            span.set_attribute("graphql.error.codes", distinct)
            span.set_status(Status(StatusCode.ERROR, ", ".join(distinct)))
        span.end()
        otel_context.detach(request._context_token)

    async def close(self) -> None:
        if self._owns_provider and self.provider is not None:
            import asyncio

            await asyncio.to_thread(self.provider.shutdown)


class InstrumentedSubgraphClient:
    """A subgraph client (router/upstream/client.py) whose fetches are timed and counted per subgraph; with a
    tracer, each fetch is a CLIENT span whose context goes to the subgraph in `traceparent`."""

    def __init__(
        self,
        inner: SubgraphClient,
        names: Mapping[str, str],
        metrics: GraphQLMetrics,
        tracer: Tracer | None,
    ) -> None:
        self.inner = inner
        self.names = dict(names)
        self.metrics = metrics
        self.tracer = tracer

    async def post(
        self,
        graph: str,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        mutation: bool = False,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        subgraph = self.names.get(graph, graph)
        tracer = self.tracer
        started = time.perf_counter()
        try:
            if tracer is None:
                payload = await self.inner.post(graph, body, headers, mutation=mutation, deadline=deadline)
            else:
                payload = await self._traced(tracer, subgraph, graph, body, headers, mutation, deadline)
        except Exception as exc:
            self.metrics.count_fetch_error(subgraph, str(getattr(exc, "code", None) or type(exc).__name__))
            self.metrics.observe_fetch(subgraph, time.perf_counter() - started)
            raise
        self.metrics.observe_fetch(subgraph, time.perf_counter() - started)
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors:
            for error in errors:
                extensions = error.get("extensions") if isinstance(error, dict) else None
                code = extensions.get("code") if isinstance(extensions, dict) else None
                self.metrics.count_fetch_error(subgraph, str(code) if code else "UNKNOWN")
        return payload

    async def _traced(
        self,
        tracer: Tracer,
        subgraph: str,
        graph: str,
        body: dict[str, Any],
        headers: Mapping[str, str] | None,
        mutation: bool,
        deadline: float | None,
    ) -> dict[str, Any]:
        attributes: dict[str, Any] = {"myshop.subgraph.name": subgraph}
        variables = body.get("variables")
        if isinstance(variables, dict) and "representations" in variables:
            attributes["myshop.entities.count"] = len(variables["representations"])
        with tracer.start_as_current_span(
            f"fetch {subgraph}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            outgoing = dict(headers) if headers else {}
            inject(outgoing)
            payload = await self.inner.post(graph, body, outgoing, mutation=mutation, deadline=deadline)
            errors = payload.get("errors") if isinstance(payload, dict) else None
            if errors:
                span.set_status(Status(StatusCode.ERROR, f"{len(errors)} GraphQL error(s)"))
            return payload


def plan_node_span(tracer: Tracer, node: PlanNode) -> AbstractContextManager[Span]:
    """The span of one plan node (Sequence, Parallel, Flatten, Condition); fetches have theirs in
    InstrumentedSubgraphClient."""
    kind = type(node).__name__
    attributes: dict[str, Any] = {}
    if isinstance(node, Flatten):
        attributes["myshop.flatten.path"] = ", ".join(".".join(path) for path in node.paths)
        attributes["myshop.subgraph.name"] = node.node.service
    elif isinstance(node, Condition):
        attributes["myshop.condition.variable"] = node.variable
    return tracer.start_as_current_span(kind, attributes=attributes)
