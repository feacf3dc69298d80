"""The chaos run: clients ordering and reading through HAProxy's router door, partners following
`orderUpdates`, while a killer SIGKILLs a random replica every few seconds (and starts it again), Redis is
killed and restarted once and PostgreSQL crashed and restarted once. Then it lets the system settle and
checks the invariants (`myshop.replicas.invariants`). `myshop chaos`, `bench/chaos.py` and tests/chaos run
it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from redis.asyncio import Redis

from myshop.replicas import invariants
from myshop.replicas.cluster import ROUTER, Cluster, Replica

PLACE = "mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"
CANCEL = "mutation Cancel($id: ID!) { cancelOrder(id: $id) { id status } }"
ORDER = "query One($id: ID!) { order(id: $id) { id status total { amount currency } items { quantity } } }"
PRODUCTS = "{ products(first: 10) { edges { node { id name price { amount } stock { available } } } } }"
CREATE = "mutation Create($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = (
    "mutation Adjust($id: ID!, $delta: Int!) "
    '{ adjustStock(productId: $id, delta: $delta, reason: "chaos") { id } }'
)
FEED = "subscription Feed($after: String) { orderUpdates(after: $after) { cursor kind status order { id } } }"
# Errors that are the shop's answer (a declined card, an order no longer cancellable), not a failure of it.
OUTCOMES = frozenset({"PAYMENT_DECLINED", "BAD_USER_INPUT", "CONFLICT", "ORDER_NOT_CANCELLABLE"})
# The first entry of a stream: a partner starting here gets every change of the run (its stream is the run's).
START_CURSOR = base64.urlsafe_b64encode(b"0-0").rstrip(b"=").decode()
# After Redis or PostgreSQL is back, errors still count as the restart's for this long (pools reconnecting).
GRACE_SECONDS = 3.0
# A killed replica's window: until HAProxy has taken it out (two failed checks a second apart) and the
# requests it held have been retried elsewhere. Its restart is not in it: HAProxy waits until it is ready.
KILL_WINDOW_SECONDS = 3.0
KILL, SERVER_RESTART = "replica killed", "server restart"
# How long a replica must have been ready before its sibling may be killed: HAProxy's next check and rise.
IN_ROTATION_SECONDS = 2.5


@dataclass
class Plan:
    duration: float = 120.0
    clients: int = 20  # shoppers and readers over HTTP
    partners: int = 3  # orderUpdates subscribers over WebSocket
    kill_every: tuple[float, float] = (3.0, 6.0)
    decline_share: float = 0.2  # orders paid with the sandbox's declining token: compensation runs
    cancel_share: float = 0.15  # confirmed orders cancelled by their customer: a refund
    products: int = 8
    initial_stock: int = 100_000
    settle_timeout: float = 120.0


@dataclass
class Windows:
    """Time spans while a part was down or restarting: a 5xx inside one is expected, outside one a fault."""

    spans: list[tuple[str, list[float]]] = field(default_factory=list)

    def open(self, kind: str, seconds: float = float("inf")) -> list[float]:
        now = time.monotonic()
        span = [now, now + seconds]
        self.spans.append((kind, span))
        return span

    @staticmethod
    def close(span: list[float]) -> None:
        span[1] = time.monotonic() + GRACE_SECONDS

    def kind(self, moment: float) -> str | None:
        """The kind of window `moment` falls in (a server restart before a kill), None outside every one."""
        kinds = {kind for kind, (start, end) in self.spans if start <= moment <= end}
        return SERVER_RESTART if SERVER_RESTART in kinds else next(iter(kinds), None)


@dataclass
class Report:
    figures: dict[str, Any]
    violations: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def lines(self) -> list[str]:
        out = [f"{name:<34} {value}" for name, value in self.figures.items()]
        out.append("invariants:")
        for name, problems in self.violations.items():
            out.append(f"  {'ok  ' if not problems else 'FAIL'} {name}")
            out += [f"       {problem}" for problem in problems[:10]]
        return out


class Chaos:
    def __init__(self, cluster: Cluster, plan: Plan, log: Callable[[str], None]) -> None:
        self.cluster = cluster
        self.plan = plan
        self.log = log
        self.stopping = asyncio.Event()
        self.windows = Windows()
        self.failures: list[tuple[float, str]] = []  # (when, what): 5xx answers and dropped connections
        self.requests = 0
        self.errors: list[tuple[float, str]] = []  # (when, code): GraphQL errors that are not a shop's answer
        self.acknowledged: dict[str, str] = {}  # order id -> payment method
        self.refused: dict[str, int] = {}  # placeOrder errors without an order, by code
        self.cancelled = 0
        self.kills: list[str] = []
        self.restart_seconds: list[float] = []
        self.max_lag = 0
        self.seen: dict[str, list[tuple[str, str]]] = {}
        # Per partner: when (seconds into the load) and why each connection ended, and its last update.
        self.ends: dict[str, list[str]] = {}
        self.last_update: dict[str, float] = {}
        self.partners_done = asyncio.Event()  # partners outlive the load: they catch up while it settles
        self.began = time.monotonic()
        self.reconnects = 0
        self.products: list[str] = []
        self.admin = cluster.token(str(uuid.uuid4()), ["ADMIN"])

    # --- requests -------------------------------------------------------------------------------------------

    async def call(
        self, http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, token: str
    ) -> dict[str, Any] | None:
        """One request through the router door; None when it failed at the HTTP level (counted)."""
        self.requests += 1
        try:
            answer = await http.post(
                self.cluster.router_url,
                json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            self.failures.append((time.monotonic(), f"{type(exc).__name__}"))
            return None
        if answer.status_code >= 500:
            who = "HAProxy: no replica up" if "No server is available" in answer.text else "router"
            self.failures.append((time.monotonic(), f"HTTP {answer.status_code} ({who})"))
            return None
        body = answer.json()
        for error in body.get("errors") or []:
            code = (error.get("extensions") or {}).get("code") or "NONE"
            if code not in OUTCOMES:
                self.errors.append((time.monotonic(), code))
        return body

    async def setup(self, http: httpx.AsyncClient) -> None:
        for index in range(self.plan.products):
            product = {
                "sku": f"CHAOS-{index}-{uuid.uuid4().hex[:6].upper()}",
                "name": f"Chaos item {index}",
                "description": "",
                "price": {"amount": 500 + 250 * index, "currency": "USD"},
                "category": "Chaos",
            }
            created = await self.call(http, CREATE, {"input": product}, self.admin)
            assert created and "errors" not in created, created
            product_id = created["data"]["createProduct"]["id"]
            adjusted = await self.call(
                http, ADJUST, {"id": product_id, "delta": self.plan.initial_stock}, self.admin
            )
            assert adjusted and "errors" not in adjusted, adjusted
            self.products.append(product_id)

    # --- clients --------------------------------------------------------------------------------------------

    async def shopper(self, number: int) -> None:
        user = str(uuid.uuid4())
        token = self.cluster.token(user, ["CUSTOMER"])
        rng = random.Random(number)
        async with httpx.AsyncClient(timeout=30) as http:
            while not self.stopping.is_set():
                if number % 5 == 4:  # every fifth client only reads
                    await self.call(http, PRODUCTS, None, token)
                    if self.acknowledged:
                        order_id = rng.choice(list(self.acknowledged))
                        await self.call(http, ORDER, {"id": order_id}, self.admin)
                    await asyncio.sleep(rng.uniform(0.05, 0.3))
                    continue
                order_id = await self.place(http, token, rng)
                if order_id is not None:
                    order = await self.call(http, ORDER, {"id": order_id}, token)
                    status = ((order or {}).get("data") or {}).get("order") or {}
                    if status.get("status") == "CONFIRMED" and rng.random() < self.plan.cancel_share:
                        cancelled = await self.call(http, CANCEL, {"id": order_id}, token)
                        if cancelled and (cancelled.get("data") or {}).get("cancelOrder"):
                            self.cancelled += 1
                await asyncio.sleep(rng.uniform(0.05, 0.3))

    async def place(self, http: httpx.AsyncClient, token: str, rng: random.Random) -> str | None:
        """placeOrder, retried with the same idempotency key (as a client does) until it has an answer."""
        method = "tok_decline" if rng.random() < self.plan.decline_share else "tok_approve"
        lines = rng.sample(self.products, rng.randint(1, 2))
        order_input = {
            "items": [{"productId": p, "quantity": rng.randint(1, 3)} for p in lines],
            "paymentMethod": method,
            "idempotencyKey": uuid.uuid4().hex,
        }
        for attempt in range(10):
            answer = await self.call(http, PLACE, {"input": order_input}, token)
            if answer is not None:
                placed = (answer.get("data") or {}).get("placeOrder")
                errors = answer.get("errors") or []
                order_id = (
                    placed["id"]
                    if placed
                    else next(
                        (
                            e["extensions"]["orderId"]
                            for e in errors
                            if (e.get("extensions") or {}).get("orderId")
                        ),
                        None,
                    )
                )
                if order_id is not None:
                    self.acknowledged[order_id] = method
                    return str(order_id)
                code = ((errors[0].get("extensions") or {}).get("code") if errors else None) or "NONE"
                self.refused[code] = self.refused.get(code, 0) + 1
            if self.stopping.is_set() and attempt >= 2:
                return None
            await asyncio.sleep(0.2 * (attempt + 1))
        return None

    async def partner(self, number: int) -> None:
        """orderUpdates from the stream's start, resumed from the last cursor after every disconnect."""
        name = f"partner-{number}"
        token = self.cluster.token(str(uuid.uuid4()), ["PARTNER"])
        seen = self.seen.setdefault(name, [])
        ends = self.ends.setdefault(name, [])
        cursor = START_CURSOR
        url = self.cluster.router_url.replace("http://", "ws://", 1)
        async with aiohttp.ClientSession() as session:
            while not self.partners_done.is_set():
                end = "closed"
                try:
                    async with session.ws_connect(
                        url, protocols=("graphql-transport-ws",), heartbeat=5
                    ) as ws:
                        await ws.send_json(
                            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                        )
                        ack = await asyncio.wait_for(ws.receive_json(), 10)
                        if ack.get("type") != "connection_ack":
                            raise ConnectionError(f"no ack: {ack}")
                        payload = {"query": FEED, "variables": {"after": cursor}}
                        await ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
                        async for message in ws:
                            if message.type != aiohttp.WSMsgType.TEXT:
                                end = f"{message.type.name}"
                                break
                            data = message.json()
                            if data.get("type") == "ping":
                                await ws.send_json({"type": "pong"})
                            elif data.get("type") == "next":
                                update = ((data.get("payload") or {}).get("data") or {}).get("orderUpdates")
                                if update is None:
                                    end = "next without data"
                                    break  # an error in the stream: resume
                                if update["kind"] == "STATUS":
                                    seen.append((update["order"]["id"], update["status"]))
                                self.last_update[name] = time.monotonic() - self.began
                                cursor = update["cursor"]
                            elif data.get("type") in ("error", "complete"):
                                end = str(data.get("type"))
                                break
                except (aiohttp.ClientError, OSError, TimeoutError, ConnectionError, ValueError) as exc:
                    end = type(exc).__name__
                ends.append(f"{time.monotonic() - self.began:.1f} s {end}")
                if not self.partners_done.is_set():
                    self.reconnects += 1
                    await asyncio.sleep(0.3)

    # --- the killer -----------------------------------------------------------------------------------------

    async def restart(self, replica: Replica) -> None:
        self.windows.open(KILL, KILL_WINDOW_SECONDS)
        self.cluster.kill(replica)
        self.kills.append(replica.label)
        began = time.monotonic()
        self.cluster.spawn(replica)  # restarted at once, as a supervisor (systemd, kubelet) would
        await self.cluster.ready(replica)
        self.restart_seconds.append(time.monotonic() - began)

    async def killer(self, rng: random.Random) -> None:
        restarts: set[asyncio.Task[None]] = set()
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), rng.uniform(*self.plan.kill_every))
                break
            # Never both replicas of a service at once: the other one has been ready long enough for HAProxy
            # to have put it back (a check a second), so one of them always serves.
            settled = time.monotonic() - IN_ROTATION_SECONDS
            candidates = [
                r
                for r in self.cluster.processes
                if all(
                    s.ready_since is not None and s.ready_since < settled
                    for s in self.cluster.processes
                    if s.service == r.service
                )
            ]
            if candidates:
                task = asyncio.create_task(self.restart(rng.choice(candidates)))
                restarts.add(task)
                task.add_done_callback(restarts.discard)
        await asyncio.gather(*restarts)

    async def restart_server(self, what: str, at: float) -> None:
        await asyncio.sleep(at)
        span = self.windows.open(SERVER_RESTART)
        self.log(f"restarting {what}")
        try:
            server = self.cluster.redis if what == "Redis" else self.cluster.postgres
            await asyncio.to_thread(server.restart)
            await self.cluster.door_ready(ROUTER, within=60)
        finally:
            Windows.close(span)

    async def sample_lag(self, redis: Redis) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(Exception):
                lag, pending = await invariants.consumer_backlog(redis)
                self.max_lag = max(self.max_lag, lag + pending)
            await asyncio.sleep(1.0)

    # --- the run --------------------------------------------------------------------------------------------

    async def run(self) -> Report:
        plan = self.plan
        async with httpx.AsyncClient(timeout=30) as http:
            await self.setup(http)
        redis = Redis.from_url(self.cluster.redis.url)
        partners = [asyncio.create_task(self.partner(n)) for n in range(plan.partners)]
        await asyncio.sleep(1.0)  # the partners subscribed before the first order
        began = self.began = time.monotonic()
        load = [asyncio.create_task(self.shopper(n)) for n in range(plan.clients)]
        chaos = [
            asyncio.create_task(self.killer(random.Random(7))),
            asyncio.create_task(self.restart_server("Redis", plan.duration * 0.3)),
            asyncio.create_task(self.restart_server("PostgreSQL", plan.duration * 0.6)),
            asyncio.create_task(self.sample_lag(redis)),
        ]
        await asyncio.sleep(plan.duration)
        self.stopping.set()
        await asyncio.gather(*load, *chaos)
        loaded = time.monotonic() - began
        self.log(f"load done after {loaded:.0f} s; settling")
        async with invariants.databases(self.cluster.postgres.url, self.cluster.names) as db:
            settled = await self.settle(db, redis)
            history = await invariants.order_history(db)
            await self.partners_caught_up(history)
            self.partners_done.set()
            for task in partners:
                task.cancel()
            await asyncio.gather(*partners, return_exceptions=True)
            report = await self.report(db, redis, loaded, settled, history)
        await redis.aclose()
        return report

    async def settle(self, db: invariants.Databases, redis: Redis) -> float:
        """Seconds until every order is final, every outbox drained and every group caught up."""
        began = time.monotonic()
        state: tuple[int, int, tuple[int, int]] | str = "not read"
        while time.monotonic() - began < self.plan.settle_timeout:
            try:
                state = (
                    await invariants.unfinished_orders(db),
                    await invariants.unpublished_events(db),
                    await invariants.consumer_backlog(redis),
                )
            except Exception as exc:  # a server still coming back: read again
                state = f"{type(exc).__name__}: {exc}"
            if state == (0, 0, (0, 0)):
                return time.monotonic() - began
            await asyncio.sleep(0.5)
        self.log(
            f"not settled after {self.plan.settle_timeout:.0f} s: "
            f"(unfinished orders, unpublished events, (lag, pending)) = {state}"
        )
        return time.monotonic() - began

    async def partners_caught_up(self, history: Any) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(set(history) <= set(seen) for seen in self.seen.values()):
                await asyncio.sleep(1.0)  # a duplicate would come right after
                return
            await asyncio.sleep(0.25)

    async def report(
        self, db: invariants.Databases, redis: Redis, loaded: float, settled: float, history: Any
    ) -> Report:
        failures = Counter(self.windows.kind(moment) for moment, _ in self.failures)
        outside = [what for moment, what in self.failures if self.windows.kind(moment) is None]
        errors: dict[str | None, Counter[str]] = {}
        for moment, code in self.errors:
            errors.setdefault(self.windows.kind(moment), Counter())[code] += 1
        final = await db.rows("orders", "SELECT status, count(*) AS n FROM orders GROUP BY status")
        figures: dict[str, Any] = {
            "load (s)": round(loaded),
            "clients / partners": f"{self.plan.clients} / {self.plan.partners}",
            "requests": self.requests,
            "orders placed (acknowledged)": len(self.acknowledged),
            "orders by final status": {row["status"]: row["n"] for row in final},
            "orders cancelled by customers": self.cancelled,
            "placeOrder refused (no order)": self.refused,
            "kills (SIGKILL)": len(self.kills),
            "replica restarts": len(self.restart_seconds),
            "replica restart to ready (s, max)": round(max(self.restart_seconds, default=0), 1),
            "Redis restarts / PostgreSQL restarts": (
                f"{self.cluster.redis.restarts} / {self.cluster.postgres.restarts}"
            ),
            "5xx/dropped: server restarts / kills": f"{failures[SERVER_RESTART]} / {failures[KILL]}",
            "5xx/dropped outside those windows": len(outside),
            "GraphQL errors, server restarts": dict(errors.get(SERVER_RESTART, {})),
            "GraphQL errors, kills": dict(errors.get(KILL, {})),
            "GraphQL errors, outside": dict(errors.get(None, {})),
            "events (outbox rows)": await invariants.outbox_events(db),
            "events published twice (per stream)": await invariants.published_twice(redis),
            "max consumer lag (entries)": self.max_lag,
            "subscriber updates / reconnects": (
                f"{sum(len(s) for s in self.seen.values())} / {self.reconnects}"
            ),
            "settled after (s)": round(settled, 1),
        }
        violations = {
            "every acknowledged order is final": await invariants.acknowledged_orders_final(
                db, set(self.acknowledged)
            ),
            "stock + sold = initial per product": await invariants.stock_adds_up(
                db, dict.fromkeys(self.products, self.plan.initial_stock)
            ),
            "one capture per confirmed order, a refund per cancelled charge": (
                await invariants.payments_add_up(db)
            ),
            "every event published and consumed once per group": await invariants.events_consumed_once(
                db, redis
            ),
            "every resumed subscriber saw every change once": self.subscriber_problems(history),
            "no 5xx outside a restart window": [f"{len(outside)} failures: {sorted(set(outside))}"]
            if outside
            else [],
        }
        return Report(figures, violations)

    def subscriber_problems(self, history: Any) -> list[str]:
        problems = []
        for name, seen in self.seen.items():
            found = invariants.subscriber_saw_every_change_once(name, seen, history)
            if found:
                last = self.last_update.get(name)
                when = f"{last:.1f} s" if last is not None else "never"
                found.append(
                    f"{name}: last update {when} into the load; connections ended: {self.ends[name]}"
                )
            problems += found
        return problems


async def run_chaos(
    directory: Path, plan: Plan, *, log: Callable[[str], None] = print, niceness: int = 0
) -> Report:
    async with Cluster(directory, log=log, niceness=niceness) as cluster:
        return await Chaos(cluster, plan, log).run()
