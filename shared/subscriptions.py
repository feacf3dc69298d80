"""What a consuming service declares: the events it subscribes to (a `ConsumerSpec` of `Subscription`s, one
`Handler` per event type), the table that makes its handling idempotent, and where its dead letters wait.
`shared.consumer` runs the consumer; `shared.deadletters` lists and replays the dead letters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, String, Table, Uuid, func
from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox import EVENT_BUS, Event

Handler = Callable[[AsyncSession, Event], Awaitable[None]]


@dataclass(frozen=True)
class Batched:
    """A handler that can also apply several events of its type at once (`many`: events in stream order, each
    new to the group), in one transaction with their processed rows: one transaction and one statement for a
    burst of frequent events instead of one each. Called with one event it is an ordinary `Handler` (a
    retry, a dead letter's replay, a batch that failed: the consumer then applies its events one by one, so
    a bad event fails alone)."""

    many: Callable[[AsyncSession, Sequence[Event]], Awaitable[None]]

    async def __call__(self, session: AsyncSession, event: Event) -> None:
        await self.many(session, [event])


PROCESSED_EVENTS_TABLE = "processed_events"


@dataclass(frozen=True)
class Subscription:
    """The events of one producer a service consumes."""

    producer: str  # reads the stream `<prefix>{events}:<producer>`
    handlers: Mapping[str, Handler]  # event type -> handler; other types are acknowledged and skipped


@dataclass(frozen=True)
class ConsumerSpec:
    """What a consuming service declares on its `SubgraphDefinition.consumer`."""

    group: str  # the consumer group's name: the consuming service's name
    subscriptions: Sequence[Subscription]
    processed: Table  # processed_events_table(Base.metadata) of the consuming service
    max_attempts: int = 5  # handler failures before the event goes to the dead-letter stream

    def handler_for(self, producer: str, event_type: str) -> Handler | None:
        for subscription in self.subscriptions:
            if subscription.producer == producer and event_type in subscription.handlers:
                return subscription.handlers[event_type]
        return None


def processed_events_table(metadata: MetaData) -> Table:
    """`processed_events`: one row per event a consumer group has applied (its migration creates it)."""
    return Table(
        PROCESSED_EVENTS_TABLE,
        metadata,
        Column("group", String(100), nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("group", "event_id"),
    )


def dead_letter_stream(redis_prefix: str, group: str) -> str:
    """The stream where a group's events that kept failing wait for an admin."""
    return f"{redis_prefix}{EVENT_BUS}:deadletter:{group}"
