"""The admin console in a real browser (Debian's Chromium driven by playwright-core, console_browser.mjs)
against the test stack through a router that allows the console's origin: sign in as the demo admin, the
revenue chart's points for a chosen window, best sellers, a stock adjustment shown in the low-stock table, an
order arriving live over the WebSocket, a dead letter replayed from the page and gone. Screenshots land in
build/test-artifacts/console/."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from eventually import eventually
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker

from myshop import sites
from myshop.demo.users import DEMO_PASSWORD, seed
from shared.outbox import Event
from shared.subscriptions import dead_letter_stream
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCRIPT = Path(__file__).with_name("console_browser.mjs")
SCREENSHOTS = REPO / "build" / "test-artifacts" / "console"
SUPERGRAPH = (REPO / "schema" / "supergraph.graphql").read_text()
BUILT = sites.KNOWN_SITES[0].directory

# CI (and `make test`, which builds the console and installs Chromium where it can) must run it.
pytestmark = pytest.mark.skipif(
    not os.environ.get("CI")
    and (
        not CHROMIUM.exists()
        or not (REPO / "node_modules" / "playwright-core").exists()
        or not shutil.which("node")
        or not (BUILT / "index.html").is_file()
    ),
    reason="needs /usr/bin/chromium, `npm ci` (playwright-core) and the built console (`make console`)",
)

LOGIN = "mutation L($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
CREATE = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id name } }"
ADJUST = 'mutation A($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: "seed") { id } }'
PLACE = "mutation P($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"
SERIES = """query S($from: DateTime!, $to: DateTime!) {
  salesSeries(from: $from, to: $to, interval: DAY) { start confirmedOrders }
}"""
STOCK = "query S($id: ID!) { product(id: $id) { stock { available onHand } } }"
DEAD = "{ analyticsDeadLetters { id } }"


@dataclass
class Console:
    site: ServerThread
    router: str
    admin: str
    customer: str
    best_seller: dict[str, str]
    low: str
    dead_letter: str
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
    return {
        **event.to_fields(),
        "stream": "events:users",
        "message_id": "1-0",
        "error": "PeerUnavailable: users: SERVICE_UNAVAILABLE: HTTP 503",
        "attempts": "5",
        "failed_at": datetime.now(UTC).isoformat(),
    }


@pytest.fixture(scope="module")
async def console(
    stack: Any, start_router: Callable[..., ServerThread], engines: dict[str, Any], redis: Redis
) -> AsyncIterator[Console]:
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
    async with httpx.AsyncClient(timeout=30) as http:
        admin = (await call(http, url, LOGIN, {"e": "admin@myshop.dev", "p": DEMO_PASSWORD}))["login"]
        customer = (await call(http, url, LOGIN, {"e": "customer@myshop.dev", "p": DEMO_PASSWORD}))["login"]
        made = []
        for name, units in ((f"Console kettle {uuid.uuid4().hex[:6]}", 20), ("Console low mug", 1)):
            product = {"sku": f"CON-{uuid.uuid4().hex[:8]}", "name": name, "category": "Console"}
            product["price"] = {"amount": 1250, "currency": "USD"}
            created = (await call(http, url, CREATE, {"input": product}, admin["accessToken"]))[
                "createProduct"
            ]
            await call(http, url, ADJUST, {"id": created["id"], "d": units}, admin["accessToken"])
            made.append(created)
        # Two orders of today, confirmed: the best seller, and today's point of the chart.
        for _ in range(2):
            order = {"items": [{"productId": made[0]["id"], "quantity": 2}], "paymentMethod": "tok_approve"}
            order["idempotencyKey"] = uuid.uuid4().hex
            placed = (await call(http, url, PLACE, {"input": order}, customer["accessToken"]))["placeOrder"]
            assert placed["status"] == "CONFIRMED"
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        days = [(today + timedelta(days=n)).date().isoformat() for n in range(-6, 2)]
        window = {"from": f"{days[0]}T00:00:00Z", "to": f"{days[-1]}T00:00:00Z"}
        await eventually(
            lambda: call(http, url, SERIES, window, admin["accessToken"]),
            lambda data: data["salesSeries"][-1]["confirmedOrders"] >= 2,
            within=60,
            every=0.2,
            what="analytics counting today's orders",
        )
        # A dead letter of analytics' consumer: an event it can handle now (its peer is back).
        user_id = str(uuid.uuid4())
        registered = Event(
            id=uuid.uuid4(),
            type="UserRegistered",
            producer="users",
            version=1,
            occurred_at=datetime.now(UTC),
            payload={
                "userId": user_id,
                "email": f"{user_id}@example.com",
                "name": "Dee",
                "at": today.isoformat(),
            },
            aggregate_id=user_id,
        )
        stream = dead_letter_stream(os.environ["MYSHOP_REDIS_PREFIX"], "analytics")
        entry = await redis.xadd(stream, dead_letter(registered))
        yield Console(
            site,
            url,
            admin["accessToken"],
            customer["accessToken"],
            made[0],
            made[1]["id"],
            entry.decode(),
            days,
        )
    site.stop()


async def run_browser(arguments: dict[str, Any]) -> dict[str, Any]:
    completed = await asyncio.to_thread(
        subprocess.run,
        ["node", str(SCRIPT), orjson.dumps(arguments).decode()],
        cwd=REPO,  # the driver's own playwright-core
        capture_output=True,
        timeout=180,
    )
    lines = completed.stdout.decode().strip().splitlines()
    assert lines, completed.stderr.decode()[-2000:]
    report: dict[str, Any] = orjson.loads(lines[-1])
    assert report["ok"], report
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
            "lowProduct": console.low,
            "delta": 3,
            "customerToken": console.customer,
            "orderProduct": console.best_seller["id"],
            "deadLetter": console.dead_letter,
            "screenshots": str(SCREENSHOTS),
        }
    )

    # The chart: one point per day of the window, the table the same days, today's with the seeded orders.
    assert (report["points"], report["orderPoints"]) == (7, 7)
    assert [row[0] for row in report["salesRows"]] == console.days[:-1]
    assert int(report["salesRows"][-1][2]) >= 2
    assert console.best_seller["name"] in report["bestSellers"]
    # The stock adjusted from the page is the product's stock now.
    assert (report["availableBefore"], report["availableAfter"], report["onHandAfter"]) == (1, 4, 4)
    stock = await call(http, console.router, STOCK, {"id": console.low})
    assert stock["product"]["stock"] == {"available": 4, "onHand": 4}
    # The order placed while the page was open came in live.
    assert report["liveStatus"] == "CONFIRMED"
    # The replayed dead letter is gone for good, and the admin signed out.
    letters = await call(http, console.router, DEAD, {}, console.admin)
    assert console.dead_letter not in {letter["id"] for letter in letters["analyticsDeadLetters"]}
    assert "replayed" in report["replayMessage"]
    assert report["signedOut"] is True
    assert sorted(path.name for path in SCREENSHOTS.glob("[0-9]-*.png")) == [
        "0-sign-in.png",
        "1-sales.png",
        "2-best-sellers.png",
        "3-low-stock.png",
        "4-orders.png",
        "5-dead-letters.png",
        "6-dead-letter-replayed.png",
    ]
