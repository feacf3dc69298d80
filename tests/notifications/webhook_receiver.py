"""A partner's webhook endpoint for the tests: a real aiohttp server on loopback that records every POST (raw
body and headers) and answers 200, or 500 while failing; it can be taken down (the port refuses
connections) and brought back on the same port."""

from __future__ import annotations

import importlib.util
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
from aiohttp import web

# The documented verification snippet, loaded from where partners copy it (examples/ is not a package).
SNIPPET = Path(__file__).resolve().parents[2] / "examples" / "webhook_verify.py"


def _load_snippet() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_verify", SNIPPET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


webhook_verify = _load_snippet()


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: dict[str, str]
    status: int  # what the receiver answered
    at: float

    @property
    def event(self) -> dict[str, Any]:
        return orjson.loads(self.body)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    def __init__(self) -> None:
        self.port = _free_port()
        self.requests: list[Received] = []
        self.failing = False
        self._runner: web.AppRunner | None = None

    def url(self, path: str = "/hooks", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        status = 500 if self.failing else 200
        body = await request.read()
        self.requests.append(Received(body, dict(request.headers), status, time.monotonic()))
        return web.Response(status=status, text="no" if self.failing else "ok")

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def accepted(self) -> list[Received]:
        """The POSTs it answered 200."""
        return [request for request in self.requests if request.status == 200]


WEBHOOK_FIELDS = (
    "id url events description status disabledAt disabledReason previousSecretExpiresAt owner { id }"
)
CREATE = f"""
mutation Create($input: CreateWebhookInput!) {{
  createWebhook(input: $input) {{ secret webhook {{ {WEBHOOK_FIELDS} }} }}
}}"""
WEBHOOKS = f"query {{ webhooks(first: 50) {{ nodes {{ {WEBHOOK_FIELDS} }} }} }}"
WEBHOOK = f"query W($id: ID!) {{ webhook(id: $id) {{ {WEBHOOK_FIELDS} }} }}"
DELETE = "mutation D($id: ID!) { deleteWebhook(id: $id) }"
ROTATE = (
    "mutation R($id: ID!) { rotateWebhookSecret(id: $id) { secret webhook { id previousSecretExpiresAt } } }"
)
ENABLE = "mutation E($id: ID!) { enableWebhook(id: $id) { id status disabledAt } }"
REPLAY_ALL = "mutation R($id: ID!) { replayWebhookDeliveries(webhookId: $id) }"
REPLAY_ONE = "mutation R($id: ID!) { replayWebhookDelivery(id: $id) { id status attempts } }"
DELIVERIES = """
query D($id: ID!, $status: WebhookDeliveryStatus, $first: Int, $after: String) {
  webhookDeliveries(webhookId: $id, status: $status, first: $first, after: $after) {
    nodes {
      id webhookId eventId eventType status attempts nextAttemptAt lastResponseStatus lastError
      deliveredAt deadAt
      history { attempt attemptedAt responseStatus error durationMs }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""


class WebhookApi:
    """The webhook operations of the stack's notifications service, as a caller with `token`."""

    def __init__(self, gql: Any) -> None:
        self.gql = gql

    async def create(self, token: str, url: str, events: list[str] | None = None, **extra: Any) -> Any:
        webhook_input = {"url": url, "events": ["*"] if events is None else events, **extra}
        return await self.gql("notifications", CREATE, {"input": webhook_input}, token=token)

    async def created(self, token: str, url: str, events: list[str] | None = None) -> tuple[str, str]:
        """A new webhook's id and secret."""
        answer = (await self.create(token, url, events)).ok()["createWebhook"]
        return answer["webhook"]["id"], answer["secret"]

    async def call(self, token: str, query: str, **variables: Any) -> Any:
        return await self.gql("notifications", query, variables, token=token)

    async def deliveries(
        self, token: str, webhook_id: str, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Every delivery of the webhook (all pages), newest first."""
        found: list[dict[str, Any]] = []
        after = None
        while True:
            page = (
                await self.call(token, DELIVERIES, id=webhook_id, status=status, first=100, after=after)
            ).ok()["webhookDeliveries"]
            found.extend(page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]
