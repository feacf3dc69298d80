"""The admin console in a real browser (Debian's Chromium driven by playwright-core, console_browser.mjs)
against the test stack through a router that allows the console's origin: sign in as the demo admin, the
revenue chart's points for a chosen window, best sellers, a stock adjustment shown in the low-stock table, an
order arriving live over the WebSocket, a dead letter replayed from the page and gone. Screenshots land in
build/test-artifacts/console/."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from browsers import needs_browser
from eventually import eventually
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker
from stall_report import StallWatch

from myshop import sites
from myshop.demo.users import DEMO_PASSWORD, seed
from shared.consumer import dead_letter_entry
from shared.outbox import Event
from shared.subscriptions import dead_letter_stream
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("console_browser.mjs")
SCREENSHOTS = REPO / "build" / "test-artifacts" / "console"
SUPERGRAPH = (REPO / "schema" / "supergraph.graphql").read_text()
BUILT = sites.KNOWN_SITES[0].directory
# An Orders list slower than this (from the page's opening) is warned of, with the stack's snapshots.
SLOW_LIST_SECONDS = 5

pytestmark = needs_browser(BUILT, also="the built console (`make console`)")

LOGIN = "mutation L($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
CREATE = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id name } }"
ADJUST = 'mutation A($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: "seed") { id } }'
PLACE = "mutation P($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"
SERIES = """query S($from: DateTime!, $to: DateTime!) {
  salesSeries(from: $from, to: $to, interval: DAY) { start confirmedOrders }
}"""
STOCK = "query S($id: ID!) { product(id: $id) { stock { available onHand } } }"
DEAD = "{ analyticsDeadLetters { id } }"
CREATE_WEBHOOK = "mutation W($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }"
DELETE_WEBHOOK = "mutation D($id: ID!) { deleteWebhook(id: $id) }"
DEAD_DELIVERIES = "query D($id: ID!) { webhookDeliveries(webhookId: $id, status: DEAD) { nodes { id } } }"
WEBHOOK_TIMINGS = {
    "webhook_poll_seconds": 0.05,
    "webhook_retry_initial_seconds": 0.1,
    "webhook_retry_max_seconds": 0.3,
    "webhook_max_attempts": 3,
    "webhook_disable_after_dead": 1000,
}


@dataclass
class Console:
    site: ServerThread
    router: str
    servers: dict[str, ServerThread]  # the stack's, the router and the site: what a stall report looks at
    shop: Seeded
    dead_letter: str
    dead_delivery: str
    days: list[str]


async def call(
    http: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any], token: str = ""
) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = (await http.post(url, json={"query": query, "variables": variables}, headers=headers)).json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def dead_letter(event: Event) -> dict[str, Any]:
    """An entry of a consumer group's dead-letter stream, as shared.consumer writes one."""
    error = "PeerUnavailable: users: SERVICE_UNAVAILABLE: HTTP 503"
    return dead_letter_entry(
        event.to_fields(), stream="events:users", message_id="1-0", error=error, attempts=5
    )


async def analytics_dead_letter(redis: Redis) -> str:
    """A dead letter of analytics' consumer (its entry id): an event it can handle now (its peer is back)."""
    user_id = str(uuid.uuid4())
    registered = Event(
        id=uuid.uuid4(),
        type="UserRegistered",
        producer="users",
        version=1,
        occurred_at=datetime.now(UTC),
        payload={"userId": user_id, "email": f"{user_id}@example.com", "name": "Dee"},
        aggregate_id=user_id,
    )
    stream = dead_letter_stream(os.environ["MYSHOP_REDIS_PREFIX"], "analytics")
    return (await redis.xadd(stream, dead_letter(registered))).decode()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Seeded:
    admin: str
    customer: str
    best_seller: dict[str, str]
    low: str
    webhook: str


async def seed_shop(http: httpx.AsyncClient, url: str) -> Seeded:
    """Two products (one of 1 unit: low stock), a webhook nobody answers, two confirmed orders of today."""
    admin = (await call(http, url, LOGIN, {"e": "admin@myshop.dev", "p": DEMO_PASSWORD}))["login"][
        "accessToken"
    ]
    customer = (await call(http, url, LOGIN, {"e": "customer@myshop.dev", "p": DEMO_PASSWORD}))["login"]
    made = []
    for name, units in ((f"Console kettle {uuid.uuid4().hex[:6]}", 20), ("Console low mug", 1)):
        product = {"sku": f"CON-{uuid.uuid4().hex[:8]}", "name": name, "category": "Console"}
        product["price"] = {"amount": 1250, "currency": "USD"}
        created = (await call(http, url, CREATE, {"input": product}, admin))["createProduct"]
        await call(http, url, ADJUST, {"id": created["id"], "d": units}, admin)
        made.append(created)
    hook = {"url": f"http://127.0.0.1:{closed_port()}/hooks", "events": ["OrderConfirmed"]}
    webhook = (await call(http, url, CREATE_WEBHOOK, {"input": hook}, admin))["createWebhook"]["webhook"][
        "id"
    ]
    for _ in range(2):
        order = {"items": [{"productId": made[0]["id"], "quantity": 2}], "paymentMethod": "tok_approve"}
        order["idempotencyKey"] = uuid.uuid4().hex
        placed = (await call(http, url, PLACE, {"input": order}, customer["accessToken"]))["placeOrder"]
        assert placed["status"] == "CONFIRMED"
    return Seeded(admin, customer["accessToken"], made[0], made[1]["id"], webhook)


@pytest.fixture(scope="module")
async def console(
    stack: Any,
    start_router: Callable[..., ServerThread],
    engines: dict[str, Any],
    redis: Redis,
    reset: Callable[[], Awaitable[None]],
) -> AsyncIterator[Console]:
    # The shop as this module seeds it, nothing earlier tests of the worker left: their analytics sales of
    # products no longer in the catalog made Best sellers fail (RESPONSE_VALIDATION_FAILED, a full run).
    await reset()
    config: dict[str, Any] = {}
    site = ServerThread(sites.site_app(BUILT, config)).start()
    router = start_router(
        SUPERGRAPH,
        subgraph_urls={name: f"{s.url}/graphql" for name, s in stack.servers.items()},
        cors={"origins": [site.url]},
    )
    url = config["routerUrl"] = f"{router.url}/graphql"
    async with async_sessionmaker(engines["users"], expire_on_commit=False).begin() as session:
        await seed(session)
    today = datetime.now(UTC).date()
    days = [(today + timedelta(days=n)).isoformat() for n in range(-6, 2)]
    window = {"from": f"{days[0]}T00:00:00Z", "to": f"{days[-1]}T00:00:00Z"}
    with pytest.MonkeyPatch.context() as patch:
        async with httpx.AsyncClient(timeout=30) as http:
            # Webhook deliveries give up (DEAD) after 3 quick tries, as the webhook tests set it.
            for name, value in WEBHOOK_TIMINGS.items():
                patch.setattr(stack.settings["notifications"], name, value)
            shop = await seed_shop(http, url)
            await eventually(
                lambda: call(http, url, SERIES, window, shop.admin),
                lambda data: data["salesSeries"][-1]["confirmedOrders"] >= 2,
                within=60,
                every=0.2,
                what="analytics counting today's orders",
            )
            dead = await eventually(
                lambda: call(http, url, DEAD_DELIVERIES, {"id": shop.webhook}, shop.admin),
                lambda data: data["webhookDeliveries"]["nodes"],
                within=60,
                every=0.2,
                what="a dead webhook delivery",
            )
            yield Console(
                site,
                url,
                {**stack.servers, "router": router, "site": site},
                shop,
                await analytics_dead_letter(redis),
                dead["webhookDeliveries"]["nodes"][0]["id"],
                days,
            )
            # Nobody answers it: the next modules' orders must not keep it busy.
            await call(http, url, DELETE_WEBHOOK, {"id": shop.webhook}, shop.admin)
    site.stop()


async def run_browser(arguments: dict[str, Any], servers: dict[str, ServerThread]) -> dict[str, Any]:
    async with StallWatch(servers).running() as watch:
        completed = await asyncio.to_thread(
            subprocess.run,
            ["node", str(SCRIPT), orjson.dumps(arguments).decode()],
            cwd=REPO,  # the driver's own playwright-core
            capture_output=True,
            timeout=240,  # within pytest-timeout's 300 s, fixture setup included
        )
    lines = completed.stdout.decode().strip().splitlines()
    assert lines, completed.stderr.decode()[-2000:]
    report: dict[str, Any] = orjson.loads(lines[-1])
    # pytest cuts a long message short: the whole report (its step says where it failed) goes to stdout, and
    # with a failure what the servers were doing while the page waited
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    if not report["ok"]:
        print("the stack, at most 5 s before the page gave up:")
        print(orjson.dumps(watch.latest, option=orjson.OPT_INDENT_2).decode())
    assert report["ok"], report["problems"]
    seconds = report["ordersListSeconds"]
    if seconds is None or seconds > SLOW_LIST_SECONDS:
        # Not a failure of the page (live rows need no list), but in failed CI runs a list never came, and
        # nobody knows why yet: what the stack was doing meanwhile is kept for whoever looks.
        stall = SCREENSHOTS / "slow-orders-list.json"
        stall.write_bytes(orjson.dumps(watch.taken, option=orjson.OPT_INDENT_2))
        warnings.warn(
            f"the Orders list took {seconds} s (null: never came); the stack meanwhile: {stall}", stacklevel=1
        )
    assert completed.returncode == 0
    return report


async def test_an_admin_runs_the_shop_from_the_console(console: Console, http: httpx.AsyncClient) -> None:
    report = await run_browser(
        {
            "url": f"{console.site.url}/",
            "routerUrl": console.router,
            "email": "admin@myshop.dev",
            "password": DEMO_PASSWORD,
            "from": console.days[0],
            "to": console.days[-1],
            "expectedPoints": 7,
            "lowProduct": console.shop.low,
            "delta": 3,
            "customerToken": console.shop.customer,
            "orderProduct": console.shop.best_seller["id"],
            "deadLetter": console.dead_letter,
            "deadDelivery": console.dead_delivery,
            "screenshots": str(SCREENSHOTS),
        },
        console.servers,
    )

    # The chart: one point per day of the window, the table the same days, today's with the seeded orders.
    assert (report["points"], report["orderPoints"]) == (7, 7)
    assert [row[0] for row in report["salesRows"]] == console.days[:-1]
    assert int(report["salesRows"][-1][2]) >= 2
    assert console.shop.best_seller["name"] in report["bestSellers"]
    # A list whose request was dropped said so, and came with "Try again".
    assert "does not answer" in report["droppedAlert"] and "(NETWORK)" in report["droppedAlert"]
    # The stock adjusted from the page is the product's stock now.
    assert (report["availableBefore"], report["availableAfter"], report["onHandAfter"]) == (1, 4, 4)
    stock = await call(http, console.router, STOCK, {"id": console.shop.low})
    assert stock["product"]["stock"] == {"available": 4, "onHand": 4}
    # The order placed while the page was open came in live.
    assert report["liveStatus"] == "CONFIRMED"
    assert set(report["failedStatuses"]) <= {"FAILED"}
    # The replayed dead letter is gone for good, and the admin signed out.
    letters = await call(http, console.router, DEAD, {}, console.shop.admin)
    assert console.dead_letter not in {letter["id"] for letter in letters["analyticsDeadLetters"]}
    assert "replayed" in report["replayMessage"]
    # And so is the dead webhook delivery replayed (tried again from zero).
    assert report["webhookReplayMessage"].endswith("replayed: PENDING.")
    assert report["signedOut"] is True
    assert report["logout"] is True  # the token revoked at the router, not only forgotten by the page
    assert report["staleTokenSignedOut"] is True
    assert sorted(path.name for path in SCREENSHOTS.glob("[0-9]-*.png")) == [
        "0-sign-in.png",
        "1-sales.png",
        "2-best-sellers.png",
        "3-low-stock.png",
        "4-orders.png",
        "5-dead-letters.png",
        "6-dead-letters-replayed.png",
    ]
