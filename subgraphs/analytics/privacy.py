"""What analytics holds on a user and how it forgets them (the map: subgraphs/users/privacy.py).

Its tables hold user ids, never a name, email or address: `user_events` (registrations and logins),
`order_facts` and `payment_facts` (amounts). Those rows stay when a user is deleted, so counts and revenue do
not move; the id they keep names no one any more. What does hold personal data is the consumer's dead letters
(a `UserRegistered` that failed keeps its email and name): users' `UserDeleted` scrubs them.
`PersonalDataExport.analytics` is this service's part of `exportMyData`.
"""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON
from strawberry.types import Info

from shared.context import Runtime
from shared.outbox import Event
from shared.privacy import ExportPart, dead_letters_of, forget_in_dead_letters, iso, parse_user_id
from shared.subscriptions import ConsumerSpec, Handler
from subgraphs.analytics.models import OrderFact, PaymentFact, UserEvent


def user_deleted(runtime: Runtime[Any], spec: ConsumerSpec) -> Handler:
    """The `UserDeleted` handler of this process (its Redis holds the dead letters)."""
    stream = dead_letters_of(runtime, spec)

    async def handle(session: AsyncSession, event: Event) -> None:
        await forget_in_dead_letters(runtime.redis, stream, str(parse_user_id(event.payload)))

    return handle


async def export(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    activity = await session.scalars(
        select(UserEvent).where(UserEvent.user_id == user_id).order_by(UserEvent.at)
    )
    orders = await session.scalars(
        select(OrderFact).where(OrderFact.user_id == user_id).order_by(OrderFact.placed_at)
    )
    payments = await session.scalars(
        select(PaymentFact).where(PaymentFact.user_id == user_id).order_by(PaymentFact.processed_at)
    )
    return {
        "activity": [{"kind": row.kind, "at": iso(row.at)} for row in activity],
        "orders": [
            {
                "orderId": str(row.order_id),
                "total": row.total_amount,
                "currency": row.currency,
                "placedAt": iso(row.placed_at),
                "confirmedAt": iso(row.confirmed_at),
                "cancelledAt": iso(row.cancelled_at),
                "failedAt": iso(row.failed_at),
            }
            for row in orders
        ],
        "payments": [
            {
                "paymentId": str(row.payment_id),
                "orderId": str(row.order_id) if row.order_id else None,
                "amount": row.amount,
                "currency": row.currency,
                "status": row.status,
                "processedAt": iso(row.processed_at),
                "refundedAt": iso(row.refunded_at),
            }
            for row in payments
        ],
    }


@strawberry.federation.type(keys=["userId"])
class PersonalDataExport(ExportPart):
    @strawberry.field(
        description="The user's sign-ups and sign-ins, orders and payments as analytics counts them."
    )
    async def analytics(self, info: Info) -> JSON:
        return await export(info.context.session, self.user_uuid)
