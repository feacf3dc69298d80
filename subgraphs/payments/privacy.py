"""payments' part of `exportMyData` (the map of what is erased where: subgraphs/users/privacy.py).

A payment holds a user id, an order id, an amount, a method token and the provider's answers: nothing that
names or locates a person, and the books keep all of it when a user is deleted, so payments consumes no
`UserDeleted`.
"""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON
from strawberry.types import Info

from shared.privacy import ExportPart, iso
from subgraphs.payments.models import Payment


async def export(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    payments = await session.scalars(
        select(Payment).where(Payment.user_id == user_id).order_by(Payment.created_at, Payment.id)
    )
    return [
        {
            "id": str(payment.id),
            "orderId": str(payment.order_id) if payment.order_id else None,
            "amount": payment.amount,
            "currency": payment.currency,
            "method": payment.method,
            "status": payment.status,
            "failureReason": payment.failure_reason,
            "refundReason": payment.refund_reason,
            "refundedAmount": payment.refunded_amount,
            "createdAt": iso(payment.created_at),
            "refundedAt": iso(payment.refunded_at),
        }
        for payment in payments
    ]


@strawberry.federation.type(keys=["userId"])
class PersonalDataExport(ExportPart):
    @strawberry.field(description="The user's payments and refunds, oldest first.")
    async def payments(self, info: Info) -> JSON:
        return await export(info.context.session, self.user_uuid)
