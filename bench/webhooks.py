"""Benchmark of the signed-webhook delivery path (subgraphs/notifications/webhooks*.py), with its reference.

The notifications service runs as a process of its own (`stack`; users and products beside it, as its
readiness needs its peers); a PARTNER registers a webhook for `OrderStatusChanged` pointing at an aiohttp
receiver on loopback that verifies every signature with the documented snippet (examples/webhook_verify.py)
and answers 200. Then, in one run:

1. webhooks: N `OrderStatusChanged` events (one order each, so no delivery waits behind another of its
   order) XADDed to the orders stream, pipelined, as the outbox relay would; the `webhooks` consumer turns
   them into deliveries and the dispatcher POSTs them. Deliveries per second from the first XADD to the last
   delivery received, and the latency from each event's occurredAt to its receipt (p50/p99);
2. reference: the same receiver receiving the same number of signed POSTs of the same shape from a bare
   aiohttp client loop, as many at once as the dispatcher's `webhook_concurrency`: what the HTTP hop (and
   the signing and verifying) alone costs. Latency there is one POST's round trip.

Settings: `webhook_ordering_grace_seconds` 0 (no wait after an event happened) and `webhook_max_attempts` 1
(no retries: a failed try is DEAD, not retried later; none is expected); the rest as configured (batch size,
concurrency, poll interval: printed). Databases dropped and Redis keys `bench:<run>:*` deleted at the end.

    .venv/bin/python bench/webhooks.py [--events 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import time
import uuid
from datetime import UTC, datetime
from types import ModuleType

import stack

SERVICES = ["users", "products", "notifications"]  # notifications is ready once its peers answer
RUN = stack.isolate(SERVICES)
os.environ["MYSHOP_NOTIFICATIONS_WEBHOOK_ORDERING_GRACE_SECONDS"] = "0"
os.environ["MYSHOP_NOTIFICATIONS_WEBHOOK_MAX_ATTEMPTS"] = "1"
os.environ["MYSHOP_NOTIFICATIONS_WEBHOOK_PRIVATE_TARGETS_ALLOWED"] = "true"

import aiohttp  # noqa: E402
import orjson  # noqa: E402
from aiohttp import web  # noqa: E402
from measure import gql, percentile, run_calls  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from shared.outbox import Event, stream_name  # noqa: E402
from subgraphs.notifications.settings import NotificationsSettings  # noqa: E402
from subgraphs.notifications.webhooks_signing import SIGNATURE_HEADER, signature_header  # noqa: E402

CREATE = """
mutation Create($input: CreateWebhookInput!) {
  createWebhook(input: $input) { secret webhook { id } }
}"""
EVENT_TYPE = "OrderStatusChanged"


def _snippet() -> ModuleType:
    """The documented verification snippet, loaded from where partners copy it (examples/ is no package)."""
    path = stack.ROOT / "examples" / "webhook_verify.py"
    spec = importlib.util.spec_from_file_location("webhook_verify", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


webhook_verify = _snippet()


class Receiver:
    """A partner's endpoint: verifies each POST's signature, records (wall-clock receipt, body), answers 200
    (400 to a bad signature)."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: list[tuple[float, bytes]] = []
        self.rejected = 0
        self.expected = 0
        self.done = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    def reset(self, expected: int) -> None:
        self.received, self.rejected, self.expected = [], 0, expected
        self.done = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            webhook_verify.verify(body, request.headers.get(SIGNATURE_HEADER, ""), self.secret)
        except webhook_verify.WebhookVerificationError:
            self.rejected += 1
            return web.Response(status=400, text="bad signature")
        self.received.append((time.time(), body))
        if len(self.received) >= self.expected:
            self.done.set()
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hooks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def make_event(now: datetime) -> Event:
    order_id = str(uuid.uuid4())
    payload = {"orderId": order_id, "status": "SHIPPED", "previousStatus": "CONFIRMED"}
    return Event(uuid.uuid4(), EVENT_TYPE, "orders", 1, now, payload, order_id)


async def webhooks(redis: Redis, prefix: str, receiver: Receiver, count: int, chunk: int = 500) -> dict:
    """N events XADDed (pipelined, occurredAt stamped per chunk); until all are received."""
    receiver.reset(count)
    stream = stream_name(prefix, "orders")
    started = time.perf_counter()
    for start in range(0, count, chunk):
        now = datetime.now(UTC)
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(min(chunk, count - start)):
                pipe.xadd(stream, make_event(now).to_fields())
            await pipe.execute()
    try:
        await asyncio.wait_for(receiver.done.wait(), timeout=max(60.0, count / 20))
    except TimeoutError:
        print(f"  (timed out: {len(receiver.received)} of {count} delivered)")
    elapsed = time.perf_counter() - started
    latencies, ids = [], set()
    for at, body in receiver.received:
        event = orjson.loads(body)
        ids.add(event["id"])
        latencies.append(at - datetime.fromisoformat(event["occurredAt"]).timestamp())
    return {
        "delivered": len(receiver.received),
        "distinct": len(ids),
        "rejected": receiver.rejected,
        "rate": len(receiver.received) / elapsed,
        "latencies": latencies,
    }


async def reference(receiver: Receiver, count: int, concurrency: int) -> dict:
    """As many signed POSTs of the same shape, `concurrency` at a time, from one aiohttp session."""
    receiver.reset(count)
    now = datetime.now(UTC)
    bodies = []
    for _ in range(count):
        event = make_event(now)
        envelope = {
            "id": str(event.id),
            "type": event.type,
            "producer": event.producer,
            "occurredAt": now.isoformat(),
            "data": event.payload,
        }
        bodies.append(orjson.dumps(envelope))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as http:

        async def one(index: int) -> None:
            body = bodies[index]
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature_header([receiver.secret], int(time.time()), body),
            }
            async with http.post(receiver.url, data=body, headers=headers, allow_redirects=False) as answer:
                await answer.content.readany()
                if answer.status != 200:
                    raise RuntimeError(f"the receiver answered {answer.status}")

        rate, latencies = await run_calls(concurrency, count, one)
    return {
        "delivered": len(receiver.received),
        "distinct": count,
        "rejected": receiver.rejected,
        "rate": rate,
        "latencies": latencies,
    }


async def clean_redis(url: str, prefix: str) -> int:
    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        return len(keys)
    finally:
        await redis.aclose()


async def main(count: int) -> None:
    settings = NotificationsSettings()
    receiver = Receiver()
    await receiver.start()
    try:
        async with stack.Stack(SERVICES) as running:
            redis = Redis.from_url(settings.redis_url)
            try:
                async with aiohttp.ClientSession() as client:
                    webhook_input = {"url": receiver.url, "events": [EVENT_TYPE], "description": "bench"}
                    created = await gql(
                        client,
                        running.url["notifications"],
                        CREATE,
                        {"input": webhook_input},
                        running.token(["PARTNER"]),
                    )
                receiver.secret = created["createWebhook"]["secret"]
                await asyncio.sleep(1.0)  # the endpoint registered before the events happen
                ours = await webhooks(redis, settings.redis_prefix, receiver, count)
                ref = await reference(receiver, count, settings.webhook_concurrency)
            finally:
                await redis.aclose()
    finally:
        await receiver.stop()
        removed = await clean_redis(settings.redis_url, settings.redis_prefix)

    print(
        f"\nwebhooks: {count} {EVENT_TYPE} events, one order each; ordering grace set to 0 s, max attempts "
        f"1 (no retries); batch {settings.webhook_batch_size}, concurrency {settings.webhook_concurrency}, "
        f"poll {settings.webhook_poll_seconds:g} s (as configured)"
    )
    print(f"{'':<34}{'deliveries/s':>13}{'p50 ms':>9}{'p99 ms':>9}{'received':>10}{'bad sig':>9}")
    rows = [
        ("dispatcher (XADD -> receipt)", ours, "occurredAt to receipt"),
        (f"bare aiohttp loop (x{settings.webhook_concurrency})", ref, "POST round trip"),
    ]
    for name, figures, _ in rows:
        ms = [value * 1000 for value in figures["latencies"]] or [float("nan")]
        print(
            f"{name:<34}{figures['rate']:>13.0f}{percentile(ms, 50):>9.1f}{percentile(ms, 99):>9.1f}"
            f"{figures['delivered']:>10}{figures['rejected']:>9}"
        )
    print(f"ratio dispatcher / reference (deliveries/s): {ours['rate'] / ref['rate']:.3f}")
    print(
        f"latency: dispatcher = event occurredAt to receipt (includes queueing behind the burst); "
        f"reference = one POST's round trip. Distinct event ids received: {ours['distinct']} of {count}."
    )
    print(f"cleaned up: databases myshop_bench{RUN}_* dropped, {removed} Redis keys {settings.redis_prefix}*")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    asyncio.run(main(parser.parse_args().events))
