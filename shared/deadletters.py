"""Dead letters: events a consumer group gave up on, for admins to inspect and replay through GraphQL.

A dead letter is an entry of `<prefix>{events}:deadletter:<group>` (written by `shared.consumer`): the event's
fields plus `stream`, `message_id`, `error`, `attempts` and `failed_at`. A replay handles the event again
through the consumer's own path (`Consumer.apply`: processed-id bookkeeping and handler in one transaction):
when it succeeds (or the event turns out to be processed already) the entry is deleted; when it fails again
the entry is replaced by one carrying the new error and one more attempt (so it gets a new id).

Each consuming service exposes the operations under its own names (two subgraphs cannot both define
`Query.deadLetters`), admin only:

    @strawberry.type
    class Query(dead_letter_query("notification")): ...        # notificationDeadLetters(first: Int = 50)

    @strawberry.type
    class Mutation(dead_letter_mutation("notification")): ...  # replayNotificationDeadLetter(id), ...Letters
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import strawberry
from redis.asyncio import Redis
from strawberry.federation.schema_directives import ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, guarded
from shared.consumer import Consumer, HandlerFailed, consumer_for
from shared.errors import BadUserInput, NotFound
from shared.outbox import Event
from shared.redis_streams import text

if TYPE_CHECKING:
    from shared.context import Runtime

MAX_LIST = 500
_ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")

# Replace an entry by a new one, only if it is still there (two admins replaying it at once add one entry).
_REPLACE = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
"""


@strawberry.federation.type(
    shareable=True, description="An event a consumer gave up on after its last attempt."
)
class DeadLetter:
    id: strawberry.ID = strawberry.field(description="The dead-letter stream entry's id (what replay takes).")
    event_id: strawberry.ID = strawberry.field(description="The event's id (its envelope).")
    type: str = strawberry.field(description="The event type, e.g. `OrderConfirmed`.")
    producer: str = strawberry.field(description="The service that emitted it.")
    payload: str = strawberry.field(description="The event's payload, as JSON.")
    error: str = strawberry.field(description="The last failure: exception type and message.")
    attempts: int = strawberry.field(description="How many times it was handled and failed.")
    failed_at: datetime = strawberry.field(description="When it last failed.")


def _fields_of(entry: dict[Any, Any]) -> dict[str, str]:
    return {text(key): text(value) for key, value in entry.items()}


def _dead_letter(entry_id: Any, entry: dict[Any, Any]) -> DeadLetter:
    fields = _fields_of(entry)
    try:
        failed_at = datetime.fromisoformat(fields.get("failed_at", ""))
    except ValueError:
        failed_at = datetime.fromtimestamp(int(text(entry_id).split("-")[0]) / 1000, UTC)
    return DeadLetter(
        id=strawberry.ID(text(entry_id)),
        event_id=strawberry.ID(fields.get("id", "")),
        type=fields.get("type", ""),
        producer=fields.get("producer", ""),
        payload=fields.get("payload", ""),
        error=fields.get("error", ""),
        attempts=int(fields.get("attempts") or 0),
        failed_at=failed_at,
    )


class DeadLetterQueue:
    """The dead letters of one consumer group, replayed through that group's consumer path."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.redis: Redis = consumer.redis
        self.stream = consumer.dead_letters

    async def list(self, first: int = 50) -> list[DeadLetter]:
        """The newest `first` dead letters, newest first."""
        if not 1 <= first <= MAX_LIST:
            raise BadUserInput(f"first must be between 1 and {MAX_LIST}", field="first")
        entries = await self.redis.xrevrange(self.stream, count=first)
        return [_dead_letter(entry_id, entry) for entry_id, entry in entries]

    async def replay(self, entry_id: str) -> bool:
        """Handle one dead letter again: True when it is now applied (the entry deleted), False when it failed
        again (the entry replaced, with the new error)."""
        if not _ENTRY_ID.match(entry_id):
            raise BadUserInput("not a dead-letter id", field="id")
        entries = await self.redis.xrange(self.stream, entry_id, entry_id)
        if not entries:
            raise NotFound("no such dead letter")
        return await self._replay(entry_id, entries[0][1])

    async def replay_all(self) -> int:
        """Replay every dead letter present now, oldest first; returns how many succeeded."""
        newest = await self.redis.xrevrange(self.stream, count=1)
        if not newest:
            return 0
        last = text(newest[0][0])
        start, succeeded = "-", 0
        while True:
            entries = await self.redis.xrange(self.stream, start, last, count=100)
            if not entries:
                return succeeded
            for entry_id, entry in entries:
                succeeded += await self._replay(text(entry_id), entry)
            start = "(" + text(entries[-1][0])

    async def _replay(self, entry_id: str, entry: dict[Any, Any]) -> bool:
        consumer = self.consumer
        metrics = consumer.metrics
        fields = _fields_of(entry)
        event: Event | None = None
        try:
            event = Event.from_fields(fields)
            handler = consumer.spec.handler_for(event.producer, event.type)
            applied = handler is not None and await consumer.apply(event, handler)
        except Exception as failure:
            exc = failure.__cause__ if isinstance(failure, HandlerFailed) and failure.__cause__ else failure
            if metrics is not None:
                metrics.failed.labels(consumer.group, event.type if event else fields.get("type", "?")).inc()
            fields |= {
                "error": f"{type(exc).__name__}: {exc}"[:2000],
                "attempts": str(int(fields.get("attempts") or 0) + 1),
                "failed_at": datetime.now(UTC).isoformat(),
            }
            flat = [part for pair in fields.items() for part in pair]
            await self.redis.eval(_REPLACE, 1, self.stream, entry_id, *flat)
            return False
        await self.redis.xdel(self.stream, entry_id)
        if applied and metrics is not None:
            metrics.processed.labels(consumer.group, event.type).inc()
        return True


def dead_letter_queue(runtime: Runtime) -> DeadLetterQueue:
    """The dead letters of the service's consumer group."""
    return DeadLetterQueue(consumer_for(runtime, name="replay"))


async def list_dead_letters(runtime: Runtime, first: int = 50) -> list[DeadLetter]:
    return await dead_letter_queue(runtime).list(first)


async def replay_dead_letter(runtime: Runtime, id: str) -> bool:
    return await dead_letter_queue(runtime).replay(id)


async def replay_all(runtime: Runtime) -> int:
    return await dead_letter_queue(runtime).replay_all()


# --- the GraphQL fields, named per service ------------------------------------------------------------------


def _camel(prefix: str) -> str:
    return prefix[:1].upper() + prefix[1:]


def dead_letter_query(prefix: str) -> type:
    """A base class for the service's Query with `<prefix>DeadLetters(first: Int = 50): [DeadLetter!]!`."""

    async def resolve(info: Info, first: int | None = 50) -> list[DeadLetter]:
        return await list_dead_letters(info.context.runtime, 50 if first is None else first)

    name = f"{prefix}DeadLetters"
    field = strawberry.field(
        resolver=resolve,
        name=name,
        **guarded(IsAdmin, ListSize(slicing_arguments=["first"])),  # demand control: `first` dead letters
        description="Events this service's consumer gave up on, newest first (admin only).",
    )
    cls = type(f"{_camel(prefix)}DeadLetterQuery", (), {"__annotations__": {}, "dead_letters_": field})
    return strawberry.type(cls)


def dead_letter_mutation(prefix: str) -> type:
    """A base class for the service's Mutation with `replay<Prefix>DeadLetter(id: ID!): Boolean!` and
    `replay<Prefix>DeadLetters: Int!`."""

    async def replay_one(info: Info, id: strawberry.ID) -> bool:
        return await replay_dead_letter(info.context.runtime, str(id))

    async def replay_every(info: Info) -> int:
        return await replay_all(info.context.runtime)

    one = strawberry.field(
        resolver=replay_one,
        name=f"replay{_camel(prefix)}DeadLetter",
        **guarded(IsAdmin),
        description="Handle one dead letter again; false when it failed again (admin only).",
    )
    every = strawberry.field(
        resolver=replay_every,
        name=f"replay{_camel(prefix)}DeadLetters",
        **guarded(IsAdmin),
        description="Handle every dead letter again; returns how many succeeded (admin only).",
    )
    cls = type(
        f"{_camel(prefix)}DeadLetterMutation",
        (),
        {"__annotations__": {}, "replay_dead_letter_": one, "replay_dead_letters_": every},
    )
    return strawberry.type(cls)
