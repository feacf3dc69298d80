"""Python plugins (router/plugins/): router.yaml's `plugins:` hook the router request, each subgraph request
and response, and the router response. Two stand-in subgraphs on loopback record what they receive: alpha
(Strawberry: a query, a mutation, a subscription) and beta (answers data, an error and a response header).
The plugins under test are this module's classes, loaded by import path like any other."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import strawberry
from edge_headers import OPS
from standin import Received, read_request, request_headers
from strawberry.asgi import GraphQL
from strawberry.types import Info
from subscription_client import sse_events
from ws_client import GraphQLWebSocket

from router.config import ConfigError, RouterConfig
from router.plugins import (
    Refusal,
    RouterRequest,
    RouterResponse,
    SubgraphRequest,
    SubgraphResponse,
)
from router.server import build_gateway, create_app
from shared.composition import compose
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]

# --- the stand-in subgraphs -----------------------------------------------------------------------------

ALPHA_SEEN: list[dict[str, str]] = []  # the headers of each request alpha resolved (a socket's handshake too)


def _seen(info: Info) -> None:
    ALPHA_SEEN.append({k.lower(): v for k, v in info.context["request"].headers.items()})


@strawberry.type
class AlphaQuery:
    @strawberry.field
    def alpha(self, info: Info) -> str:
        _seen(info)
        return "a"


@strawberry.type
class AlphaMutation:
    @strawberry.mutation
    def set_alpha(self, info: Info, value: str) -> str:
        _seen(info)
        return value


@strawberry.type
class AlphaSubscription:
    @strawberry.subscription
    async def ticks(self, info: Info) -> AsyncGenerator[int, None]:
        _seen(info)
        for n in (1, 2):
            yield n


alpha_schema = strawberry.federation.Schema(
    query=AlphaQuery, mutation=AlphaMutation, subscription=AlphaSubscription
)


class Beta:
    """Answers `beta`, with an error the plugins may strip and a header they may read."""

    def __init__(self) -> None:
        self.received: list[Received] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = await read_request(scope, receive, send)
        if raw is None:
            return
        received = Received(request_headers(scope), orjson.loads(raw or b"{}"))
        self.received.append(received)
        await asyncio.sleep(float(received.headers.get("x-beta-delay", 0)))
        body = orjson.dumps(
            {
                "data": {"beta": "b"},
                "errors": [{"message": "cache cold", "extensions": {"code": "BETA_WARNING"}}],
            }
        )
        headers = [(b"content-type", b"application/json"), (b"x-subgraph-cost", b"7")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _asgi(app: Any) -> Any:
    async def asgi(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                kind = (await receive())["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        await app(scope, receive, send)

    return asgi


# --- the plugins under test --------------------------------------------------------------------------------

CALLS: list[str] = []  # "plugin:stage", as the hooks ran


def _trigger(context: Any, stage: str) -> None:
    if context.get("raise") == stage:
        raise RuntimeError("secret detail of a broken plugin")


class Tenant:
    """Sync hooks: a tenant header and context entry, a refusal (by header or operation), a refused fetch."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.name = config["name"]

    def router_request(self, request: RouterRequest) -> Refusal | None:
        CALLS.append(f"{self.name}:router_request")
        request.context["raise"] = request.headers.get("x-test-raise")
        _trigger(request.context, "router_request")
        if request.headers.get("x-test") == "refuse" or "Refused" in (request.query or ""):
            return Refusal("this tenant may not call", code="TENANT_NOT_ALLOWED", status=403, tenant="x")
        tenant = "t-" + request.headers.get("x-tenant-name", "none")
        request.headers["x-tenant"] = tenant  # reaches every subgraph through the header rules
        request.context["tenant"] = tenant
        request.context["test"] = request.headers.get("x-test")
        request.context["secret"] = request.headers.get("x-secret")  # never sent on (subgraph_request)
        return None

    def subgraph_request(self, request: SubgraphRequest) -> Refusal | None:
        CALLS.append(f"{self.name}:subgraph_request")
        _trigger(request.context, "subgraph_request")
        if request.context["test"] == "refuse-beta" and request.subgraph == "beta":
            raise Refusal("beta is closed for this tenant", code="BETA_CLOSED")
        request.headers["x-plugin-tenant"] = request.context["tenant"]
        request.headers.pop("x-secret", None)
        request.context.setdefault("transports", []).append(request.transport)
        return None

    def subgraph_response(self, response: SubgraphResponse) -> None:
        CALLS.append(f"{self.name}:subgraph_response")

    def router_response(self, response: RouterResponse) -> None:
        CALLS.append(f"{self.name}:router_response")
        response.headers["x-tenant"] = response.context.get("tenant", "refused")


class Shaping:
    """Async hooks: strips subgraph warnings, reads a subgraph header, adds response extensions."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.name = config["name"]

    async def router_request(self, request: RouterRequest) -> None:
        await asyncio.sleep(0)
        CALLS.append(f"{self.name}:router_request")

    async def subgraph_request(self, request: SubgraphRequest) -> None:
        CALLS.append(f"{self.name}:subgraph_request")

    async def subgraph_response(self, response: SubgraphResponse) -> None:
        await asyncio.sleep(0)
        CALLS.append(f"{self.name}:subgraph_response")
        _trigger(response.context, "subgraph_response")
        if response.context.get("secret") == "mutate":
            response.body["data"]["beta"] = "changed"  # in place: this request's answer only
        errors = response.body.get("errors") or []
        kept = [e for e in errors if e["extensions"]["code"] != "BETA_WARNING"]
        response.context["stripped"] = len(errors) - len(kept)
        response.body = {**response.body, "errors": kept} if kept else {"data": response.body["data"]}
        if "x-subgraph-cost" in response.headers:
            response.context["cost"] = int(response.headers["x-subgraph-cost"])

    async def router_response(self, response: RouterResponse) -> None:
        CALLS.append(f"{self.name}:router_response")
        _trigger(response.context, "router_response")
        context = response.context
        response.extensions["plugins"] = {
            "tenant": context.get("tenant"),
            "stripped": context.get("stripped"),
            "cost": context.get("cost"),
            "operation": context.operation_name,
            "type": context.operation_type,
            "door": context.door,
            "transports": context.get("transports"),
        }


PLUGINS = [
    {"module": f"{__name__}:Tenant", "config": {"name": "first"}},
    {"module": f"{__name__}:Shaping", "config": {"name": "second"}},
]


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def subgraphs() -> Iterator[dict[str, Any]]:
    beta = Beta()
    servers = {
        "alpha": ServerThread(_asgi(GraphQL(alpha_schema))).start(),
        "beta": ServerThread(beta).start(),
    }
    sdl = compose(
        [
            ("alpha", servers["alpha"].url + "/graphql", alpha_schema.as_str()),
            ("beta", servers["beta"].url + "/graphql", "type Query { beta: String }"),
        ],
        repo_root=REPO,
    )
    yield {"sdl": sdl, "beta": beta}
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def router(subgraphs: dict[str, Any], start_router: Any) -> ServerThread:
    return start_router(subgraphs["sdl"], plugins=PLUGINS, batching={"enabled": True})


async def post(router: ServerThread, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    CALLS.clear()
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{router.url}/graphql", json=body, headers=headers or {})


# --- the four stages -------------------------------------------------------------------------------------


async def test_a_router_request_hook_sets_headers_the_subgraphs_get_and_context_the_response_reads(
    router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    ALPHA_SEEN.clear()
    headers = {"x-tenant-name": "acme", "x-secret": "s3"}

    response = await post(router, {"query": "query Both { alpha beta }"}, headers)

    body = response.json()
    assert body["data"] == {"alpha": "a", "beta": "b"}
    beta = subgraphs["beta"].received[-1].headers
    assert (beta["x-tenant"], beta["x-plugin-tenant"]) == ("t-acme", "t-acme")
    assert "x-secret" not in beta and "x-secret" not in ALPHA_SEEN[-1]
    assert ALPHA_SEEN[-1]["x-plugin-tenant"] == "t-acme"
    assert response.headers["x-tenant"] == "t-acme"
    assert body["extensions"]["plugins"] | {"stripped": None, "cost": None} == {
        "tenant": "t-acme",
        "stripped": None,
        "cost": None,
        "operation": "Both",
        "type": "query",
        "door": "http",
        "transports": ["http", "http"],
    }


async def test_each_stage_runs_its_hooks_in_the_listed_order_sync_and_async(router: ServerThread) -> None:
    response = await post(router, {"query": "{ beta }"})

    assert response.status_code == 200
    assert CALLS == [
        "first:router_request",
        "second:router_request",
        "first:subgraph_request",
        "second:subgraph_request",
        "first:subgraph_response",
        "second:subgraph_response",
        "first:router_response",
        "second:router_response",
    ]


async def test_a_subgraph_response_hook_strips_an_error_and_reads_the_subgraphs_headers(
    router: ServerThread,
) -> None:
    response = await post(router, {"query": "{ beta }"})

    body = response.json()
    assert "errors" not in body  # beta answered BETA_WARNING; the hook took it out
    assert body["data"] == {"beta": "b"}
    assert (body["extensions"]["plugins"]["stripped"], body["extensions"]["plugins"]["cost"]) == (1, 7)


async def test_a_router_request_refusal_answers_its_code_and_status_and_stops_that_stage(
    router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    before = len(subgraphs["beta"].received)

    response = await post(router, {"query": "{ beta }"}, {"x-test": "refuse", "accept": "application/json"})

    assert response.status_code == 403
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "TENANT_NOT_ALLOWED", "tenant": "x"}
    assert len(subgraphs["beta"].received) == before
    # The second plugin's router_request never ran; the response hooks did, on the refusal.
    assert CALLS == ["first:router_request", "first:router_response", "second:router_response"]
    assert response.headers["x-tenant"] == "refused"
    async with httpx.AsyncClient(timeout=30) as client:
        metrics = (await client.get(f"{router.url}/metrics", headers=OPS)).text
    plugin = f'plugin="{__name__}:Tenant"'
    assert (
        f'myshop_router_plugin_refusals_total{{{plugin},service="router",stage="router_request"}}' in metrics
    )


async def test_a_subgraph_request_refusal_fails_that_fetch_only(
    router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    before = len(subgraphs["beta"].received)

    response = await post(router, {"query": "{ alpha beta }"}, {"x-test": "refuse-beta"})

    body = response.json()
    assert body["data"] == {"alpha": "a", "beta": None}
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BETA_CLOSED", "service": "beta"}
    assert len(subgraphs["beta"].received) == before


async def test_a_fetch_shared_by_two_requests_gives_each_response_hook_its_own_answer(
    router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    before = len(subgraphs["beta"].received)
    ask = [{"x-secret": secret, "x-beta-delay": "0.3"} for secret in ("mutate", "keep")]

    changed, kept = await asyncio.gather(*(post(router, {"query": "{ beta }"}, headers) for headers in ask))

    assert len(subgraphs["beta"].received) == before + 1  # one fetch answered both
    assert (changed.json()["data"], kept.json()["data"]) == ({"beta": "changed"}, {"beta": "b"})


@pytest.mark.parametrize(
    ("stage", "status"),
    [
        ("router_request", 500),
        ("subgraph_request", 200),
        ("subgraph_response", 200),
        ("router_response", 500),
    ],
)
async def test_a_hook_that_raises_answers_plugin_error_and_logs_its_stack_never_sends_it(
    router: ServerThread, stage: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="router.plugins"):
        response = await post(router, {"query": "{ beta }"}, {"x-test-raise": stage})

    assert response.status_code == status
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PLUGIN_ERROR"]
    if status == 200:  # a subgraph stage: that fetch failed, the request answered
        assert body["data"] == {"beta": None}
    assert "secret detail" not in response.text
    [record] = [r for r in caplog.records if r.name == "router.plugins.chain"]
    assert record.exc_info is not None and "secret detail" in str(record.exc_info[1])


async def test_each_batch_entry_runs_the_hooks_on_its_own(router: ServerThread) -> None:
    batch = [{"query": "query Fine { beta }"}, {"query": "query Refused { beta }"}]

    response = await post(router, batch, {"x-tenant-name": "acme"})

    fine, refused = response.json()
    assert fine["data"] == {"beta": "b"} and fine["extensions"]["plugins"]["tenant"] == "t-acme"
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["TENANT_NOT_ALLOWED"]


async def test_an_sse_request_runs_the_hooks_and_gets_their_response_headers(router: ServerThread) -> None:
    response = await post(
        router, {"query": "{ beta }"}, {"accept": "text/event-stream", "x-tenant-name": "sse"}
    )

    assert response.headers["x-tenant"] == "t-sse"
    [(_, data)] = [event for event in sse_events(response.text) if event[0] == "next"]
    assert orjson.loads(data)["extensions"]["plugins"]["door"] == "sse"


async def test_a_subscriptions_upstream_socket_gets_the_hooks_headers_and_can_be_refused(
    router: ServerThread,
) -> None:
    ALPHA_SEEN.clear()
    async with GraphQLWebSocket(router) as ws:
        frames = await ws.until_complete(await ws.subscribe("subscription { ticks }"))
        [refused] = await ws.until_complete(await ws.subscribe("subscription Refused { ticks }"))

    assert [f["payload"]["data"]["ticks"] for f in frames if f["type"] == "next"] == [1, 2]
    assert ALPHA_SEEN[-1]["x-plugin-tenant"] == "t-none"  # the router's WebSocket handshake to alpha
    assert len(ALPHA_SEEN) == 1
    assert refused["type"] == "error"
    assert [e["extensions"]["code"] for e in refused["payload"]] == ["TENANT_NOT_ALLOWED"]


# --- loading through router.yaml: the example plugins -----------------------------------------------------

EXAMPLES = """
plugins:
  - module: "examples.plugins.partner_gate:PartnerGate"
    config: {allowed: [acme, globex], read_only: [globex]}
  - module: "examples.plugins.audit_log:AuditLog"
    config: {logger: myshop.audit.test}
"""


@pytest.fixture(scope="module")
def examples_router(
    subgraphs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    path = tmp_path_factory.mktemp("plugins") / "router.yaml"
    path.write_text(EXAMPLES)
    config = RouterConfig.load(path, graphiql=False)
    server = ServerThread(create_app(build_gateway(subgraphs["sdl"], config), config)).start()
    yield server
    server.stop()


async def test_the_partner_gate_from_router_yaml_refuses_unknown_partners_before_any_fetch(
    examples_router: ServerThread, subgraphs: dict[str, Any]
) -> None:
    before = len(subgraphs["beta"].received)

    unknown = await post(examples_router, {"query": "{ beta }"}, {"x-partner-id": "initech"})
    missing = await post(examples_router, {"query": "{ beta }"})

    assert (
        unknown.status_code == 403
        and unknown.json()["errors"][0]["extensions"]["code"] == "PARTNER_NOT_ALLOWED"
    )
    assert (
        missing.status_code == 401 and missing.json()["errors"][0]["extensions"]["code"] == "PARTNER_REQUIRED"
    )
    assert len(subgraphs["beta"].received) == before


async def test_the_partner_gate_passes_a_listed_partner_on_and_keeps_read_only_ones_from_mutations(
    examples_router: ServerThread, subgraphs: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    ALPHA_SEEN.clear()
    with caplog.at_level(logging.INFO, logger="myshop.audit.test"):
        allowed = await post(
            examples_router,
            {"query": "query Shop { beta }"},
            {"x-partner-id": "acme", "x-myshop-partner": "forged"},
        )
        read_only = await post(
            examples_router, {"query": 'mutation { setAlpha(value: "x") }'}, {"x-partner-id": "globex"}
        )

    assert allowed.json()["data"] == {"beta": "b"}
    assert subgraphs["beta"].received[-1].headers["x-myshop-partner"] == "acme"
    assert allowed.headers["x-myshop-subgraph-fetches"] == "1"
    body = read_only.json()
    assert body["data"] is None  # setAlpha is non-null
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PARTNER_READ_ONLY"]
    assert ALPHA_SEEN == []  # the mutation was never sent
    audit = [
        orjson.loads(r.getMessage().removeprefix("audit "))
        for r in caplog.records
        if r.name == "myshop.audit.test"  # not the test stack's, logging in this process too
    ]
    assert [(a["partner"], a["operation"], a["subgraphs"], a["errors"]) for a in audit] == [
        ("acme", "Shop", ["beta"], ["BETA_WARNING"]),
        ("globex", None, [], ["PARTNER_READ_ONLY"]),
    ]


@pytest.mark.parametrize(
    ("entry", "names"),
    [
        ({"module": "examples.plugins.nowhere:Gate"}, "cannot import examples.plugins.nowhere"),
        ({"module": "examples.plugins.partner_gate:Nothing"}, "has no class Nothing"),
        ({"module": "examples.plugins.partner_gate:PartnerGate"}, "`allowed` must list"),
        ({"module": "logging:Formatter"}, "defines none of the hooks"),
    ],
)
def test_a_plugin_that_cannot_load_fails_the_start_with_a_config_error(
    entry: dict[str, Any], names: str, tmp_path: Path
) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(orjson.dumps({"plugins": [entry]}).decode())  # JSON is YAML

    with pytest.raises(ConfigError, match=names):
        RouterConfig.load(path)


def test_a_plugin_entry_must_name_a_module_and_a_class() -> None:
    with pytest.raises(ValueError, match=r"package\.module:Class"):
        RouterConfig(plugins=[{"module": "examples.plugins.partner_gate"}])
