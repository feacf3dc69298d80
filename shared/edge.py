"""What every request of a subgraph passes through on its way in, as one pure ASGI layer: its request id, its
trace context (a server span when tracing is on), and its HTTP metrics.

One layer, not three: each ASGI middleware is a coroutine and a wrapper of `send` per request, and the three
cost a `{ __typename }` a fifth of its CPU in process (22 of 100 us).
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from shared.log import request_id_var, traceparent_var
from shared.telemetry import TRACEPARENT, UNTRACED_PATHS, parent_context, traceparent_of, valid_traceparent

# A caller's request id is kept when it could not forge a log line; else one is made.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Unmatched paths share one label, so scanners cannot blow up the label set.
_KNOWN_PATHS = frozenset({"/graphql"})


class EdgeMiddleware:
    """- The request id: `x-request-id` from the caller (the router) or a new one; logs and the response carry
      it (HTTP and WebSocket).
    - The trace context: a valid incoming `traceparent` is kept for logs and peer calls; with a tracer, an
      HTTP request (but health and metrics) gets a server span continuing it.
    - The metrics: HTTP requests counted and timed by route template, once the app's runtime exists (the
      lifespan made it)."""

    def __init__(self, app: Any, tracer: Tracer | None) -> None:
        self.app = app
        self.tracer = tracer
        self._children: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        incoming = None
        carrier: dict[str, str] = {}
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
            elif key == b"traceparent" or key == b"tracestate":
                carrier[key.decode("latin-1")] = value.decode("latin-1")
        # Else 128 random bits in hex: uuid4().hex's length, without building a UUID object.
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else os.urandom(16).hex()
        header = (b"x-request-id", request_id.encode())
        runtime = getattr(scope["app"].state, "runtime", None) if kind == "http" else None
        status = 500

        async def send_edge(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        request_token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            if self.tracer is None or kind != "http" or scope["path"] in UNTRACED_PATHS:
                incoming_parent = carrier.get(TRACEPARENT)
                token = traceparent_var.set(incoming_parent if valid_traceparent(incoming_parent) else None)
                try:
                    await self.app(scope, receive, send_edge)
                finally:
                    traceparent_var.reset(token)
            else:
                await self._traced(scope, receive, send_edge, carrier, lambda: status)
        finally:
            request_id_var.reset(request_token)
            if runtime is not None:
                self._count(runtime.metrics, scope, status, time.perf_counter() - started)

    async def _traced(
        self, scope: Any, receive: Any, send: Any, carrier: dict[str, str], status: Any
    ) -> None:
        assert self.tracer is not None
        method = scope["method"]
        with self.tracer.start_as_current_span(
            f"{method} {scope['path']}",
            context=parent_context(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:
            token = traceparent_var.set(traceparent_of(span))
            try:
                await self.app(scope, receive, send)
            finally:
                traceparent_var.reset(token)
                span.set_attribute("http.response.status_code", status())
                if status() >= 500:
                    span.set_status(Status(StatusCode.ERROR, f"HTTP {status()}"))

    def _count(self, metrics: Any, scope: Any, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None)
        path = route or (scope["path"] if scope["path"] in _KNOWN_PATHS else "unmatched")
        key = (metrics, scope["method"], path, status)
        children = self._children.get(key)
        if children is None:
            # prometheus_client's `labels()` checks and joins the values on every call: its children are
            # kept, a few hundred at most (methods a client sends are not bounded: then they start over).
            if len(self._children) >= 512:
                self._children.clear()
            method = scope["method"]
            children = self._children[key] = (
                metrics.http_requests.labels(metrics.service, method, path, str(status)),
                metrics.http_duration.labels(metrics.service, method, path),
            )
        children[0].inc()
        children[1].observe(seconds)
