"""The transactional outbox: a service writes its domain events into its own `outbox` table in the same
transaction as the change they describe; `shared.relay` publishes them to Redis Streams afterwards.

Streams: one per producing service, `<redis_prefix>{events}:<service>` (for example `myshop:{events}:orders`).
Events of one aggregate are written by transactions that lock that aggregate's row, so their outbox ids follow
their commit order, and the relay publishes in id order: a consumer reads each aggregate's events in order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

OUTBOX_TABLE = "outbox"


# The event bus's hash tag: every stream, dead-letter stream and consumer failure count shares one Redis
# Cluster slot, because one XREADGROUP reads several streams and a dead-lettering MULTI touches a stream,
# its group's dead letters and failure counts. The bus (hundreds of events a second) fits one node many
# times over; the busy keys (caches, sessions, rate limits, APQ) spread over the cluster.
EVENT_BUS = "{events}"


def stream_name(redis_prefix: str, producer: str) -> str:
    """The Redis Stream a service's events go to."""
    return f"{redis_prefix}{EVENT_BUS}:{producer}"


def outbox_table(metadata: MetaData) -> Table:
    """The `outbox` table on a service's metadata (its migrations create it like any other table)."""
    return Table(
        OUTBOX_TABLE,
        metadata,
        # Publication order: ids are taken at insert, under the aggregate's row lock.
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("aggregate_id", String(100), nullable=True),
        Column("version", Integer, nullable=False, server_default=text("1")),
        Column("payload", JSONB, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        # The relay's work list: what is not published yet, in id order.
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )


@dataclass(frozen=True, slots=True)
class Event:
    """A domain event as it travels: the envelope every consumer reads."""

    id: uuid.UUID
    type: str
    producer: str
    version: int
    occurred_at: datetime
    payload: dict[str, Any]
    aggregate_id: str | None = None

    def to_fields(self) -> dict[str, bytes]:
        """The Redis Stream entry's fields."""
        return {
            "id": str(self.id).encode(),
            "type": self.type.encode(),
            "producer": self.producer.encode(),
            "version": str(self.version).encode(),
            "time": self.occurred_at.isoformat().encode(),
            "aggregate": (self.aggregate_id or "").encode(),
            "payload": orjson.dumps(self.payload),
        }

    @classmethod
    def from_fields(cls, fields: dict[bytes | str, bytes | str]) -> Event:
        def get(name: str) -> str:
            value = fields.get(name.encode(), fields.get(name))
            if value is None:
                raise ValueError(f"event without {name!r}")
            return value.decode() if isinstance(value, bytes) else value

        return cls(
            id=uuid.UUID(get("id")),
            type=get("type"),
            producer=get("producer"),
            version=int(get("version")),
            occurred_at=datetime.fromisoformat(get("time")),
            payload=orjson.loads(get("payload")),
            aggregate_id=get("aggregate") or None,
        )


class Outbox:
    """A service's outbox: `await outbox.emit(session, "OrderPlaced", {...}, aggregate_id=...)` inside the
    transaction that makes the change. Nothing is sent here; the relay publishes after the commit.
    """

    def __init__(self, metadata: MetaData, producer: str) -> None:
        self.producer = producer
        self.table = outbox_table(metadata)

    def event(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        aggregate_id: object | None = None,
        version: int = 1,
    ) -> Event:
        """A new event of this producer, not written yet: for a statement that writes it with its change (one
        round trip), where `emit` would take one of its own."""
        return Event(
            id=uuid.uuid4(),
            type=str(event_type),
            producer=self.producer,
            version=version,
            occurred_at=datetime.now(UTC),
            # Round-tripped through orjson: UUIDs and datetimes become strings now, not in the relay (and
            # asyncpg's own UUID type, which orjson does not know, through `str`).
            payload=orjson.loads(orjson.dumps(payload, default=str)),
            aggregate_id=str(aggregate_id) if aggregate_id is not None else None,
        )

    async def emit(
        self,
        session: AsyncSession,
        event_type: str,
        payload: dict[str, Any],
        *,
        aggregate_id: object | None = None,
        version: int = 1,
    ) -> Event:
        event = self.event(event_type, payload, aggregate_id=aggregate_id, version=version)
        await self.write(session, event)
        return event

    async def write(self, session: AsyncSession, event: Event) -> None:
        """Write an event made by `event` in `session`'s transaction."""
        await session.execute(
            self.table.insert().values(
                event_id=event.id,
                event_type=event.type,
                aggregate_id=event.aggregate_id,
                version=event.version,
                payload=event.payload,
                occurred_at=event.occurred_at,
            )
        )

    async def write_many(self, session: AsyncSession, events: list[Event]) -> None:
        """Write `events` in `session`'s transaction in one statement, in the order given: a batch (the
        catalog's activity) in one round trip instead of one per event."""
        if events:
            await session.execute(text(insert_events_sql("events")), {"events": events_json(events)})


def insert_events_sql(events_param: str, source: str | None = None) -> str:
    """An `INSERT INTO outbox` of the events bound (as `events_json`) to `:events_param`, for a statement that
    writes them beside the change they describe (a CTE of it): one row per event, in the order given (their
    ids, so their publication, follow it). `source`: a CTE the rows are written for; none are when it has
    no row (the change did not happen)."""
    sources = f"{source}, " if source else ""
    return (
        f"INSERT INTO {OUTBOX_TABLE} (event_id, event_type, aggregate_id, version, payload, occurred_at) "
        "SELECT e.event_id, e.event_type, e.aggregate_id, e.version, e.payload, e.occurred_at "
        f"FROM {sources}jsonb_to_recordset(CAST(:{events_param} AS jsonb)) AS e(seq int, event_id uuid, "
        "event_type varchar, aggregate_id varchar, version int, payload jsonb, occurred_at timestamptz) "
        "ORDER BY e.seq"
    )


def events_json(events: list[Event]) -> str:
    """`events` as the JSON that `insert_events_sql` reads."""
    return orjson.dumps(
        [
            {
                "seq": seq,
                "event_id": event.id,
                "event_type": event.type,
                "aggregate_id": event.aggregate_id,
                "version": event.version,
                "payload": event.payload,
                "occurred_at": event.occurred_at,
            }
            for seq, event in enumerate(events)
        ]
    ).decode()
