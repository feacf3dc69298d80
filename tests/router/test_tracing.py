"""Traces across the router and the subgraphs: one trace id from the client to the saga's peer calls, with the
parent links a trace viewer draws (router request → router fetch → orders → orders' peer calls → inventory,
payments, products), a client's `traceparent` continued, and with tracing off the W3C context still forwarded.

Spans go to an in-memory exporter through tracer providers of this module's own servers (a router and traced
orders, inventory, payments and products over the stack's databases); nothing global is set, so other tests
run untraced as before.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from eventually import eventually
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from standin import read_request, request_headers, respond

from shared.app import create_subgraph_app
from shared.log import JsonFormatter, traceparent_var
from shared.peers import Peer
from shared.telemetry import make_provider
from shared.testing import ServerThread
from subgraphs import registry

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
PLACE = """
mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"""
CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation A($id: ID!) { adjustStock(productId: $id, delta: 5, reason: "trace test") { id } }'
TOTAL = "query Total { products(first: 1) { totalCount } }"
TRACED = ("products", "inventory", "payments", "orders")
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
def traced_router(stack: Any, exporter: InMemorySpanExporter, start_router: Any) -> Iterator[ServerThread]:
    """A router over traced products, inventory, payments and orders (orders calling the traced ones); users,
    analytics and the others are the stack's, untraced."""
    servers: dict[str, ServerThread] = {}
    for name in TRACED:
        # The stack's small pools (tests/conftest.py): these servers add to its connections.
        update: dict[str, Any] = {}
        if name == "orders":
            update.update(
                {
                    f"{peer}_url": f"{servers[peer].url}/graphql"
                    for peer in ("products", "inventory", "payments")
                }
            )
        settings = stack.settings[name].model_copy(update=update)
        provider = make_provider(name, SimpleSpanProcessor(exporter))
        app = create_subgraph_app(registry.load(name), settings, tracer_provider=provider)
        servers[name] = ServerThread(app).start()
    urls = {name: f"{server.url}/graphql" for name, server in stack.servers.items()}
    urls.update({name: f"{server.url}/graphql" for name, server in servers.items()})
    provider = make_provider("router", SimpleSpanProcessor(exporter))
    router = start_router(SUPERGRAPH, subgraph_urls=urls, app_options={"tracer_provider": provider})
    yield router
    router.stop()
    for server in reversed(servers.values()):
        server.stop()


async def new_product(gql: Any, admin: str) -> str:
    sku = f"TRC-{uuid.uuid4().hex[:10].upper()}"
    product_input = {
        "sku": sku,
        "name": f"Traced {sku}",
        "description": "",
        "price": {"amount": 500, "currency": "USD"},
        "category": "Tests",
    }
    created = await gql("products", CREATE_PRODUCT, {"input": product_input}, token=admin)
    return str(created.ok()["createProduct"]["id"])


async def product_in_stock(gql: Any, admin: str) -> str:
    product_id = await new_product(gql, admin)
    (await gql("inventory", ADJUST, {"id": product_id}, token=admin)).ok()
    return product_id


def service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


def trace_spans(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.context.trace_id == trace_id]


async def spans_when(
    exporter: InMemorySpanExporter, trace_id: int, servers: set[str], seconds: float = 5.0
) -> list[ReadableSpan]:
    """The trace's spans once each of `servers` has ended a SERVER span in it (a server ends its span after
    it answered, so its caller may be done first)."""
    return await eventually(
        lambda: trace_spans(exporter, trace_id),
        lambda spans: servers <= {service(s) for s in spans if s.kind is SpanKind.SERVER},
        within=seconds,
        what=f"SERVER spans of {sorted(servers)}",
    )


async def post(router: ServerThread, query: str, variables: Any = None, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"{router.url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )


async def test_a_placed_order_is_one_trace_from_the_router_to_inventory_and_payments(
    traced_router: ServerThread, exporter: InMemorySpanExporter, gql: Any, issuer: Any
) -> None:
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    customer = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token
    product = await product_in_stock(gql, admin)
    order_input = {"items": [{"productId": product, "quantity": 2}], "paymentMethod": "tok_approve"}
    order_input["idempotencyKey"] = uuid.uuid4().hex

    response = await post(traced_router, PLACE, {"input": order_input}, authorization=f"Bearer {customer}")

    assert response.json()["data"]["placeOrder"]["status"] == "CONFIRMED", response.json()
    [root] = [
        s
        for s in exporter.get_finished_spans()
        if service(s) == "myshop-router" and s.kind is SpanKind.SERVER and s.name == "mutation Place"
    ]
    spans = await spans_when(
        exporter, root.context.trace_id, {f"myshop-{name}" for name in ("orders", "inventory", "payments")}
    )
    by_id = {span.context.span_id: span for span in spans}

    def parent(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, span.name
        return by_id[span.parent.span_id]

    assert root.parent is None
    assert root.attributes["graphql.operation.type"] == "mutation"
    [orders] = [s for s in spans if service(s) == "myshop-orders" and s.kind is SpanKind.SERVER]
    fetch = parent(orders)
    assert (service(fetch), fetch.kind, fetch.attributes["myshop.subgraph.name"]) == (
        "myshop-router",
        SpanKind.CLIENT,
        "orders",
    )
    assert parent(fetch) is root
    assert orders.name == "mutation"  # the operation the router sent orders (it has no name)
    # The saga runs in a task of its own after the mutation started: its calls stay under the orders span.
    calls = [s for s in spans if service(s) == "myshop-orders" and s.kind is SpanKind.CLIENT]
    assert {parent(call).context.span_id for call in calls} == {orders.context.span_id}
    called = {}
    for name in ("inventory", "payments", "products"):
        served = [s for s in spans if service(s) == f"myshop-{name}" and s.kind is SpanKind.SERVER]
        called[name] = sorted(str(parent(s).attributes["graphql.operation.name"]) for s in served)
        assert {parent(s).attributes["peer.service"] for s in served} == {name}
        assert all(parent(s) in calls for s in served)
    assert called == {
        "inventory": ["Confirm", "Reserve"],
        "payments": ["Charge"],
        "products": ["OrderPrices"],
    }


async def test_a_clients_traceparent_is_continued_by_the_router_and_the_subgraphs(
    traced_router: ServerThread, exporter: InMemorySpanExporter, gql: Any, issuer: Any
) -> None:
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    for _ in range(3):  # the catalog is empty before (`gql`): TOTAL counts these, more than its page of one
        await new_product(gql, admin)
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"

    response = await post(traced_router, TOTAL, traceparent=traceparent)

    assert response.json() == {"data": {"products": {"totalCount": 3}}}
    spans = await spans_when(exporter, int(CLIENT_TRACE, 16), {"myshop-router", "myshop-products"})
    [root] = [s for s in spans if service(s) == "myshop-router" and s.kind is SpanKind.SERVER]
    [products] = [s for s in spans if service(s) == "myshop-products" and s.kind is SpanKind.SERVER]
    assert root.parent is not None and root.parent.span_id == int(CLIENT_SPAN, 16)
    assert root.name == "query Total"
    assert products.name == "query"  # the router's subgraph operation has no name


# --- tracing off: the context still travels --------------------------------------------------------------


class HeaderRecorder:
    """A subgraph answering every POST with fixed data, keeping the headers of each request."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = orjson.dumps(answer)
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if await read_request(scope, receive, send) is None:
            return
        self.seen.append(request_headers(scope))
        await respond(send, self.answer)


@pytest.fixture(scope="module")
def recorder() -> Iterator[tuple[HeaderRecorder, ServerThread]]:
    recorder = HeaderRecorder({"data": {"products": {"totalCount": 1}}})
    server = ServerThread(recorder).start()
    yield recorder, server
    server.stop()


@pytest.fixture(scope="module")
def untraced_router(recorder: tuple[HeaderRecorder, ServerThread], start_router: Any) -> ServerThread:
    _, subgraph = recorder
    names = ("users", "products", "orders", "payments", "inventory", "notifications", "analytics", "shipping")
    return start_router(SUPERGRAPH, subgraph_urls={name: f"{subgraph.url}/graphql" for name in names})


async def test_without_tracing_the_router_passes_a_clients_traceparent_on_unchanged(
    untraced_router: ServerThread, recorder: tuple[HeaderRecorder, ServerThread]
) -> None:
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"

    await post(untraced_router, TOTAL, traceparent=traceparent, tracestate="vendor=1")

    assert recorder[0].seen[-1]["traceparent"] == traceparent
    assert recorder[0].seen[-1]["tracestate"] == "vendor=1"


@pytest.mark.parametrize("sent", [None, "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "junk"])
async def test_without_tracing_the_router_starts_a_trace_for_a_request_without_a_valid_one(
    untraced_router: ServerThread, recorder: tuple[HeaderRecorder, ServerThread], sent: str | None
) -> None:
    headers = {"traceparent": sent, "tracestate": "vendor=1"} if sent else {}

    await post(untraced_router, TOTAL, **headers)
    await post(untraced_router, TOTAL, **headers)

    first, second = (seen.get("traceparent", "") for seen in recorder[0].seen[-2:])
    for forwarded in (first, second):
        version, trace_id, span_id, flags = forwarded.split("-")
        assert (version, len(trace_id), len(span_id), flags) == ("00", 32, 16, "00")
        assert int(trace_id, 16) and int(span_id, 16)
    assert first[3:35] != second[3:35]  # a trace per request
    assert "tracestate" not in recorder[0].seen[-1]  # a state belongs to the trace it came with


async def test_an_untraced_service_passes_the_requests_traceparent_to_its_peers(
    recorder: tuple[HeaderRecorder, ServerThread],
) -> None:
    peer = Peer("products", f"{recorder[1].url}/graphql", tokens=None, timeout=5)
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    token = traceparent_var.set(traceparent)
    try:
        await peer.call(TOTAL)
    finally:
        traceparent_var.reset(token)
        await peer.close()

    assert recorder[0].seen[-1]["traceparent"] == traceparent


def test_log_lines_carry_the_requests_trace_id() -> None:
    record = logging.makeLogRecord({"msg": "reserved", "levelno": logging.INFO, "levelname": "INFO"})
    token = traceparent_var.set(f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01")
    try:
        line = orjson.loads(JsonFormatter("inventory").format(record))
    finally:
        traceparent_var.reset(token)

    assert line["trace_id"] == CLIENT_TRACE


# --- the OTLP exporter -------------------------------------------------------------------------------------


class TraceReceiver:
    """An OTLP/HTTP endpoint keeping the bodies POSTed to `/v1/traces`."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = await read_request(scope, receive, send)
        if body is None:
            return
        if scope["path"] == "/v1/traces":
            self.bodies.append(body)
        await respond(send, b"", content_type=b"application/x-protobuf")


async def test_with_an_otlp_endpoint_in_the_environment_the_router_exports_its_spans_there(
    recorder: tuple[HeaderRecorder, ServerThread], monkeypatch: pytest.MonkeyPatch, start_router: Any
) -> None:
    receiver = TraceReceiver()
    endpoint = ServerThread(receiver).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.url)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    router = start_router(SUPERGRAPH, subgraph_urls={"products": f"{recorder[1].url}/graphql"})
    try:
        await post(router, TOTAL)
    finally:
        await asyncio.to_thread(router.stop)  # the shutdown flushes what is left to export
        endpoint.stop()

    exported = b"".join(receiver.bodies)
    assert b"myshop-router" in exported
    assert b"query Total" in exported
    assert b"fetch products" in exported
