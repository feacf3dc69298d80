"""Traces of a MyShop process (OpenTelemetry): a tracer per service, W3C trace context in and out.

Spans are recorded only where a tracer provider exists: one exporting over OTLP/HTTP when the standard
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, or one handed to the app (tests, benchmarks).
Without one, nothing is recorded, yet the `traceparent` a request came with still travels on (peer calls) and
its trace id still reaches the logs (`shared.log.traceparent_var`), for the price of one header match.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from functools import lru_cache
from random import getrandbits
from typing import TYPE_CHECKING, Any

from opentelemetry.context import Context as TraceContext
from opentelemetry.trace import Span, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    # The SDK (about 40 modules, 3-4 MiB per process) is imported when a provider is made: with no OTLP
    # endpoint configured (the default) no process needs it (measured with bench/stack_memory.py).
    from opentelemetry.sdk.trace import TracerProvider

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# Version 00 exactly; a later version may append fields (W3C Trace Context, "versioning"). Lowercase hex only.
_TRACEPARENT = re.compile(
    r"^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$"
)
_PROPAGATOR = TraceContextTextMapPropagator()
# Paths never traced: probes and scrapes would drown the requests that matter.
UNTRACED_PATHS = frozenset({"/health", "/health/", "/health/ready", "/metrics"})


def valid_traceparent(value: str | None) -> bool:
    if not value:
        return False
    match = _TRACEPARENT.match(value)
    return match is not None and (match.group(1) is None or not value.startswith("00-"))


def new_traceparent() -> str:
    """A fresh trace (not sampled: whoever makes it records nothing of it), for log correlation downstream."""
    return f"00-{getrandbits(128) or 1:032x}-{getrandbits(64) or 1:016x}-00"


def traceparent_of(span: Span) -> str:
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def parent_context(carrier: MutableMapping[str, str]) -> TraceContext | None:
    """The remote parent a request's headers name (lowercase keys), or None for a new root."""
    if not valid_traceparent(carrier.get(TRACEPARENT)):
        return None
    return _PROPAGATOR.extract(carrier)


def inject(headers: dict[str, str]) -> None:
    """The current span's context as `traceparent` (and `tracestate`) headers."""
    _PROPAGATOR.inject(headers)


def otlp_configured() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def make_provider(service: str, *processors: Any) -> TracerProvider:
    """A provider naming the process `myshop-<service>` (OTEL_SERVICE_NAME overrides it)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"myshop-{service}"}))
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def provider_from_env(service: str) -> TracerProvider | None:
    """The process's provider exporting over OTLP/HTTP, when an endpoint is configured; None otherwise."""
    if not otlp_configured():
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return make_provider(service, BatchSpanProcessor(OTLPSpanExporter()))


def tracer_of(provider: TracerProvider | None) -> Tracer | None:
    return provider.get_tracer("myshop") if provider is not None else None


@lru_cache(maxsize=128)
def operation_name(query: str) -> str:
    """`Reserve` of `mutation Reserve(...) {...}`; the operation's type when it has no name (cached: callers
    send a few constant documents)."""
    match = re.match(r"\s*(query|mutation|subscription)\s*([_A-Za-z][_0-9A-Za-z]*)?", query)
    if match is None:
        return "query"
    return match.group(2) or match.group(1)
