"""A deleted user's personal data, as every service forgets it: what of an event payload is personal, how a
payload of theirs is scrubbed, who may read a user's export, and the dead letters that must forget them too.

`users` emits `UserDeleted {userId, at}` (no email, no name) when an account is deleted (subgraphs/users/
privacy.py has the map of what is erased where). Payloads are matched by their `userId`: the only personal
data events carry is about the user they name.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import strawberry
from redis.asyncio import Redis
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from shared.auth import Principal, Role
from shared.errors import Forbidden
from shared.ids import parse_uuid
from shared.redis_streams import text
from shared.subscriptions import ConsumerSpec, Handler, Subscription, dead_letter_stream

if TYPE_CHECKING:
    from shared.context import Runtime

USER_DELETED = "UserDeleted"
# What a scrubbed string becomes: the key stays (consumers that read it still find a string).
REDACTED = ""

# Payload keys (case-insensitive, any depth) holding what a person typed or is: contact, identity, free text,
# devices. Ids, amounts, statuses and times stay: the books and the counts keep them.
_PERSONAL_WORDS = ("email", "name", "phone", "address", "line1", "line2", "search", "recipient", "useragent")
_PERSONAL_KEYS = frozenset({"ip", "city", "postalcode", "company"})


def is_personal_key(key: str) -> bool:
    folded = key.replace("_", "").lower()
    return folded in _PERSONAL_KEYS or any(word in folded for word in _PERSONAL_WORDS)


def redact(value: Any) -> Any:
    """`value` with every personal key's value emptied (strings) or dropped to null (anything else)."""
    if isinstance(value, dict):
        return {
            key: (REDACTED if isinstance(item, str) else None) if is_personal_key(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def concerns(payload: Any, user_id: str) -> bool:
    """Whether an event payload is about `user_id` (its `userId`)."""
    return isinstance(payload, dict) and str(payload.get("userId") or "") == user_id


def check_export_reader(principal: Principal, user_id: object) -> uuid.UUID:
    """A user's export is theirs alone (or a service's or an admin's): a representation naming another user,
    crafted and sent to a subgraph directly, is refused, not answered. Returns the id, parsed."""
    if not (principal.is_user(user_id) or principal.has_any_role(Role.ADMIN, Role.SERVICE)):
        raise Forbidden("You can only export your own data.")
    return parse_uuid(user_id, "userId", "a user id")


def iso(value: datetime | None) -> str | None:
    """A time of an export part, as JSON carries it."""
    return value.isoformat() if value is not None else None


@strawberry.type(
    description="Never in a schema itself: each subgraph's `PersonalDataExport` part extends it."
)
class ExportPart:
    """The `PersonalDataExport @key(fields: "userId")` entity as a subgraph other than users resolves it: the
    caller must be that user (or ADMIN/SERVICE), so a crafted representation for another user is refused.
    A subclass, decorated `@strawberry.federation.type(keys=["userId"])` and named `PersonalDataExport`, adds
    the subgraph's one JSON field."""

    user_id: strawberry.ID

    @property
    def user_uuid(self) -> uuid.UUID:
        return uuid.UUID(str(self.user_id))

    @classmethod
    async def resolve_reference(cls, info: Info, **representation: Any) -> Any:
        # Strawberry passes the representation's keys as they are (`userId`).
        user_id = strawberry.ID(str(representation.get("userId")))
        check_export_reader(await info.context.require_principal(), user_id)
        return cls(user_id=user_id)


# Replace an entry by its scrubbed copy, only if it is still there (a replay may have taken it meanwhile).
_REPLACE = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
"""


async def forget_in_dead_letters(redis: Redis, stream: str, user_id: str, *, batch: int = 200) -> int:
    """Scrub the personal data of `user_id` from a consumer group's dead letters (`shared.deadletters`):
    each entry whose payload is about them gets a copy with its personal keys emptied (a new entry id; its
    error, attempts and ids stay, so an admin may still replay it). Returns how many were scrubbed.

    Idempotent (a scrubbed payload has nothing left to scrub), so a handler retried after a rollback scrubs
    nothing twice. Runs outside the handler's database transaction: Redis has no part in it."""
    scrubbed = 0
    start = "-"
    while True:
        entries = await redis.xrange(stream, start, "+", count=batch)
        for entry_id, entry in entries:
            fields = {text(key): text(value) for key, value in entry.items()}
            try:
                payload = orjson.loads(fields.get("payload", "null"))
            except orjson.JSONDecodeError:
                continue
            if not concerns(payload, user_id):
                continue
            cleaned = redact(payload)
            if cleaned == payload:
                continue
            fields["payload"] = orjson.dumps(cleaned).decode()
            flat = [part for pair in fields.items() for part in pair]
            if await redis.eval(_REPLACE, 1, stream, text(entry_id), *flat):
                scrubbed += 1
        if len(entries) < batch:
            return scrubbed
        start = "(" + text(entries[-1][0])


def parse_user_id(payload: dict[str, Any]) -> uuid.UUID:
    """The `userId` of a `UserDeleted` payload (a malformed one raises: retried, then dead-lettered)."""
    return uuid.UUID(str(payload["userId"]))


async def scrub_outbox(session: AsyncSession, table: Table, user_id: str) -> int:
    """Empty the personal fields of the user's events (`userId`) in a service's outbox, published or not;
    returns how many rows changed."""
    rows = (
        await session.execute(
            select(table.c.id, table.c.payload).where(table.c.payload["userId"].astext == user_id)
        )
    ).all()
    changed = 0
    for row in rows:
        cleaned = redact(row.payload)
        if cleaned != row.payload:
            await session.execute(update(table).where(table.c.id == row.id).values(payload=cleaned))
            changed += 1
    return changed


def dead_letters_of(runtime: Runtime, spec: ConsumerSpec) -> str:
    return dead_letter_stream(runtime.settings.redis_prefix, spec.group)


def forgetting_users(spec: ConsumerSpec, handler: Handler) -> ConsumerSpec:
    """`spec` that also handles users' `UserDeleted` with `handler` (the consumer merges the handlers of one
    producer's subscriptions), so a service's forgetting lives in its privacy module, beside its events."""
    return dataclasses.replace(
        spec, subscriptions=[*spec.subscriptions, Subscription("users", {USER_DELETED: handler})]
    )
