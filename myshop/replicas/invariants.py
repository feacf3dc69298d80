"""What must hold after a chaos run has settled, read from the services' databases and Redis (never through
the services: they are what is under test). Each check returns the violations it found, as sentences."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.outbox import stream_name

FINAL = ("CONFIRMED", "CANCELLED", "FAILED")
# The event streams of the run's services (its Redis keeps the default prefix); dead-letter streams share the
# prefix and are left out.
STREAMS_PREFIX = stream_name("myshop:", "")
DEAD_LETTERS = f"{STREAMS_PREFIX}deadletter:"


async def event_streams(redis: Redis) -> list[bytes]:
    """Every producer's event stream; never none (a check over no stream would pass whatever happened)."""
    keys = [
        key
        async for key in redis.scan_iter(match=f"{STREAMS_PREFIX}*", _type="STREAM")
        if not key.decode().startswith(DEAD_LETTERS)
    ]
    if not keys:
        raise RuntimeError(f"no event stream under {STREAMS_PREFIX!r}: the checks would see nothing")
    return keys


@dataclass
class Databases:
    """One small engine per service database of the run's own PostgreSQL."""

    server_url: str
    names: tuple[str, ...]
    engines: dict[str, AsyncEngine] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.names:
            url = make_url(self.server_url).set(database=f"myshop_{name}")
            self.engines[name] = create_async_engine(url, pool_size=1, max_overflow=1, pool_pre_ping=True)

    async def rows(self, service: str, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self.engines[service].connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(text(sql), params)]

    async def having(self, table: str) -> list[str]:
        """The services whose database has `table` (not every service has an outbox or consumes events)."""
        found = []
        for name in self.names:
            sql = "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = :table"
            if (await self.rows(name, sql, table=table))[0]["n"]:
                found.append(name)
        return found

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()


@asynccontextmanager
async def databases(server_url: str, names: tuple[str, ...]) -> AsyncIterator[Databases]:
    dbs = Databases(server_url, names)
    try:
        yield dbs
    finally:
        await dbs.close()


# --- settling -----------------------------------------------------------------------------------------------


async def unfinished_orders(db: Databases) -> int:
    rows = await db.rows(
        "orders", "SELECT count(*) AS n FROM orders WHERE status <> ALL(:final)", final=FINAL
    )
    return int(rows[0]["n"])


async def unpublished_events(db: Databases) -> int:
    total = 0
    for name in await db.having("outbox"):
        total += (await db.rows(name, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"))[0]["n"]
    return total


async def outbox_events(db: Databases) -> int:
    total = 0
    for name in await db.having("outbox"):
        total += (await db.rows(name, "SELECT count(*) AS n FROM outbox"))[0]["n"]
    return total


async def consumer_backlog(redis: Redis) -> tuple[int, int]:
    """The largest lag (entries not yet delivered) and pending count (delivered, not acknowledged) of any
    consumer group on any event stream."""
    lag = pending = 0
    for key in await event_streams(redis):
        for group in await redis.xinfo_groups(key):
            lag = max(lag, int(group.get("lag") or 0))
            pending = max(pending, int(group.get("pending") or 0))
    return lag, pending


async def published_twice(redis: Redis) -> dict[str, int]:
    """Per stream, the events at more than one entry: a relay that died (or lost Redis or PostgreSQL)
    between its XADD and its commit publishes that batch again. Consumers absorb it (processed_events); the
    order feed, which hands out stream entries, does not."""
    twice: dict[str, int] = {}
    for key in await event_streams(redis):
        counts = Counter(fields.get(b"id") for _id, fields in await redis.xrange(key))
        repeated = sum(1 for n in counts.values() if n > 1)
        if repeated:
            twice[key.decode().removeprefix(STREAMS_PREFIX)] = repeated
    return twice


# --- the invariants -----------------------------------------------------------------------------------------


async def acknowledged_orders_final(db: Databases, acknowledged: set[str]) -> list[str]:
    rows = await db.rows("orders", "SELECT id::text AS id, status FROM orders")
    status = {row["id"]: row["status"] for row in rows}
    problems = [
        f"acknowledged order {oid} is not in the orders database" for oid in acknowledged - status.keys()
    ]
    problems += [f"order {oid} is {s}, not final" for oid, s in status.items() if s not in FINAL]
    return problems


async def stock_adds_up(db: Databases, initial: dict[str, int]) -> list[str]:
    """Per product: on hand + sold (confirmed orders' lines) = initial, and nothing left reserved."""
    stock = {
        str(row["variant_id"]): row
        for row in await db.rows("inventory", "SELECT variant_id, on_hand, reserved FROM stock_items")
    }
    sold = {
        str(row["variant_id"]): int(row["sold"])
        for row in await db.rows(
            "orders",
            "SELECT i.variant_id, sum(i.quantity) AS sold FROM order_items i "
            "JOIN orders o ON o.id = i.order_id WHERE o.status = 'CONFIRMED' GROUP BY i.variant_id",
        )
    }
    problems = []
    for product, start in initial.items():
        row = stock.get(product)
        on_hand, reserved = (row["on_hand"], row["reserved"]) if row else (0, 0)
        if on_hand + sold.get(product, 0) != start:
            problems.append(f"product {product}: on hand {on_hand} + sold {sold.get(product, 0)} != {start}")
        if reserved:
            problems.append(f"product {product}: {reserved} still reserved")
    return problems


async def payments_add_up(db: Databases) -> list[str]:
    """Exactly one capture per confirmed order; every charge of a cancelled or failed order refunded, once."""
    orders = {
        row["id"]: row["status"]
        for row in await db.rows("orders", "SELECT id::text AS id, status FROM orders")
    }
    payments = await db.rows(
        "payments",
        "SELECT order_id::text AS order_id, status, amount, refunded_amount FROM payments "
        "WHERE order_id IS NOT NULL",
    )
    charged: dict[str, list[dict[str, Any]]] = {}
    for payment in payments:
        if payment["status"] in ("CAPTURED", "PARTIALLY_REFUNDED", "REFUNDED"):
            charged.setdefault(payment["order_id"], []).append(payment)
    problems = []
    for order_id, status in orders.items():
        charges = charged.get(order_id, [])
        if status == "CONFIRMED" and [c["status"] for c in charges] != ["CAPTURED"]:
            problems.append(f"confirmed order {order_id} has charges {[c['status'] for c in charges]}")
        if status in ("CANCELLED", "FAILED"):
            for charge in charges:
                if charge["status"] != "REFUNDED" or charge["refunded_amount"] != charge["amount"]:
                    problems.append(
                        f"{status.lower()} order {order_id}: charge {charge['status']} refunded "
                        f"{charge['refunded_amount']} of {charge['amount']}"
                    )
    refunds = await db.rows(
        "payments", "SELECT payment_id, count(*) AS n, sum(amount) AS total FROM refunds GROUP BY 1"
    )
    problems += [f"payment {r['payment_id']} refunded {r['n']} times" for r in refunds if r["n"] > 1]
    return problems


async def events_consumed_once(db: Databases, redis: Redis) -> list[str]:
    """Every outbox row published; every consumer group has acknowledged every entry of the streams it reads
    (lag 0, nothing pending, no dead letter) and recorded every event of the types it handles: of each
    (stream, type) a group has processed one, it has processed all. `processed_events`' key (group, event id)
    makes a second application impossible; the check is that none is missing."""
    problems = []
    processed: dict[str, set[str]] = {}
    for name in await db.having("processed_events"):
        rows = await db.rows(name, 'SELECT "group" AS g, event_id::text AS e FROM processed_events')
        for row in rows:
            processed.setdefault(row["g"], set()).add(row["e"])
    for name in await db.having("outbox"):
        outbox = await db.rows(name, "SELECT event_id::text AS e, event_type AS t, published_at FROM outbox")
        unpublished = sum(1 for row in outbox if row["published_at"] is None)
        if unpublished:
            problems.append(f"{name}: {unpublished} outbox events never published")
        key = f"{STREAMS_PREFIX}{name}"
        if not await redis.exists(key):
            if len(outbox) > unpublished:
                problems.append(f"{name}: {len(outbox) - unpublished} events published, but no stream {key}")
            continue
        in_stream = {str(fields.get(b"id", b"").decode()) for _id, fields in await redis.xrange(key)}
        missing = {row["e"] for row in outbox} - in_stream
        if missing:
            problems.append(f"{name}: {len(missing)} published events not in its stream")
        by_type: dict[str, set[str]] = {}
        for row in outbox:
            by_type.setdefault(row["t"], set()).add(row["e"])
        for group in await redis.xinfo_groups(key):
            group_name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
            if int(group.get("lag") or 0) or int(group.get("pending") or 0):
                problems.append(
                    f"{name} stream, group {group_name}: "
                    f"lag {group.get('lag')}, pending {group.get('pending')}"
                )
            done = processed.get(group_name, set())
            for event_type, ids in by_type.items():
                handled = ids & done
                if handled and handled != ids:
                    problems.append(
                        f"group {group_name}: {len(ids - handled)} of {len(ids)} {event_type} events "
                        "not processed"
                    )
    async for key in redis.scan_iter(match=f"{DEAD_LETTERS}*"):
        if await redis.xlen(key):
            problems.append(f"{key.decode()}: {await redis.xlen(key)} dead letters")
    return problems


async def order_history(db: Databases) -> Counter[tuple[str, str]]:
    rows = await db.rows("orders", "SELECT order_id::text AS o, status FROM order_status_history")
    return Counter((row["o"], row["status"]) for row in rows)


def subscriber_saw_every_change_once(
    name: str, seen: list[tuple[str, str]], history: Counter[tuple[str, str]]
) -> list[str]:
    """`seen`: the (order, status) changes a subscriber got, across its reconnections (it resumed from its
    last cursor each time, from the start of the run's stream); `history`: every change the orders database
    holds."""
    counts = Counter(seen)
    problems = []
    twice = [change for change, n in counts.items() if n > history.get(change, 0) and history.get(change, 0)]
    missed = [change for change in history if change not in counts]
    unknown = [change for change in counts if change not in history]
    if twice:
        problems.append(f"{name}: {len(twice)} changes received twice, e.g. {twice[:3]}")
    if missed:
        problems.append(f"{name}: {len(missed)} of {len(history)} changes never received, e.g. {missed[:3]}")
    if unknown:
        problems.append(f"{name}: {len(unknown)} changes the database does not hold, e.g. {unknown[:3]}")
    return problems


def new_id() -> str:
    return str(uuid.uuid4())
