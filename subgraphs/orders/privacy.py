"""orders' part of `exportMyData` (the map of what is erased where: subgraphs/users/privacy.py).

Orders hold a user id, amounts, statuses and product names: nothing that names or locates a person, and the
books keep all of it when a user is deleted, so orders consumes no `UserDeleted` (a checkout that freezes an
address on an order will have to).
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
from subgraphs.orders import repository
from subgraphs.orders.models import Order


async def export(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    orders = list(
        await session.scalars(
            select(Order).where(Order.user_id == user_id).order_by(Order.created_at, Order.id)
        )
    )
    ids = [order.id for order in orders]
    items = await repository.items_of(session, ids)
    history = await repository.history_of(session, ids)
    return [
        {
            "id": str(order.id),
            "status": order.status,
            "total": order.total_amount,
            "currency": order.currency,
            "paymentMethod": order.payment_method,
            "failureCode": order.failure_code,
            "failureReason": order.failure_reason,
            "createdAt": iso(order.created_at),
            "items": [
                {
                    "productId": str(item.product_id),
                    "productName": item.product_name,
                    "quantity": item.quantity,
                    "unitPrice": item.unit_price_amount,
                }
                for item in items.get(order.id, [])
            ],
            "statusHistory": [
                {"status": change.status, "reason": change.reason, "at": iso(change.at)}
                for change in history.get(order.id, [])
            ],
        }
        for order in orders
    ]


@strawberry.federation.type(keys=["userId"])
class PersonalDataExport(ExportPart):
    @strawberry.field(description="The user's orders with their lines and status history, oldest first.")
    async def orders(self, info: Info) -> JSON:
        return await export(info.context.session, self.user_uuid)
