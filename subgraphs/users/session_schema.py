"""A user's sessions in GraphQL: `mySessions` and `endSession` (merged into the users schema by schema.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAuthenticated, guarded
from subgraphs.users.session_service import SessionService
from subgraphs.users.sessions import SessionRecord

# Demand control's guess of a user's sessions (a few devices and browsers); not a cap.
ASSUMED_SESSIONS_PER_USER = 20


@strawberry.type(
    description="A signed-in session: one sign-in and the refreshes that kept it going, on one device. "
    "Addresses and user agents are what the client sent, for recognising a device, not proof of one."
)
class Session:
    id: strawberry.ID = strawberry.field(description="Opaque; for `endSession`. Not a token.")
    user_agent: str | None = strawberry.field(description="The User-Agent of its last use; null when none.")
    ip_address: str | None = strawberry.field(description="The client address of its last use.")
    created_at: datetime = strawberry.field(description="When it signed in.")
    last_used_at: datetime = strawberry.field(description="Its last refresh (or its sign-in).")
    sign_in_user_agent: str | None = strawberry.field(description="The User-Agent it signed in with.")
    sign_in_ip_address: str | None = strawberry.field(description="The client address it signed in from.")
    current: bool = strawberry.field(description="The session of the access token of this request.")

    @classmethod
    def from_record(cls, record: SessionRecord, *, current_id: str | None) -> Session:
        return cls(
            id=strawberry.ID(record.id),
            user_agent=record.user_agent or None,
            ip_address=record.ip or None,
            created_at=record.created_at,
            last_used_at=record.last_used_at,
            sign_in_user_agent=record.created_user_agent or None,
            sign_in_ip_address=record.created_ip or None,
            current=record.id == current_id,
        )


@strawberry.type
class SessionQuery:
    @strawberry.field(
        **guarded(IsAuthenticated, ListSize(assumed_size=ASSUMED_SESSIONS_PER_USER)),
        description="Your signed-in sessions, last used first.",
    )
    async def my_sessions(self, info: Info) -> list[Session]:
        principal = await info.context.require_principal()
        records = await SessionService(info.context).sessions(principal)
        return [Session.from_record(record, current_id=principal.session_id) for record in records]


@strawberry.type
class SessionMutation:
    @strawberry.mutation(
        **guarded(IsAuthenticated),
        description="End one of your sessions (this one too): its refresh token and access tokens stop "
        "working at once. An id that is not one of your live sessions answers NOT_FOUND.",
    )
    async def end_session(self, info: Info, id: strawberry.ID) -> bool:
        principal = await info.context.require_principal()
        await SessionService(info.context).end(principal, id)
        return True
