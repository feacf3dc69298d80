"""SQL for promotions and promotion_uses, nothing else: no commits (the caller owns the transaction).

`reserve_use` and `release_use` are the atomic use counting of checkout (checkout.py reserves in the order's
creation transaction, so a use taken meanwhile means no order; the saga's compensation releases): every
reservation of one promotion locks its row, so they run one after the other and `used_count` never passes
`usage_limit`, nor a customer's uses `per_customer_limit`.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.orders.models import Promotion, PromotionUse


class UseOutcome(enum.StrEnum):
    RESERVED = "RESERVED"  # a use is now counted for the order (or already was: a retried reservation)
    UNKNOWN = "UNKNOWN"  # no such promotion (deleted meanwhile)
    INACTIVE = "INACTIVE"
    USED_UP = "USED_UP"  # used_count reached usage_limit
    CUSTOMER_LIMIT = "CUSTOMER_LIMIT"  # the customer's uses reached per_customer_limit (or no customer)


async def get(session: AsyncSession, promotion_id: uuid.UUID) -> Promotion | None:
    return await session.get(Promotion, promotion_id)


async def by_code(session: AsyncSession, code: str) -> Promotion | None:
    """The voucher whose code is `code` whatever its case (the unique index on lower(code) answers)."""
    return await session.scalar(select(Promotion).where(func.lower(Promotion.code) == code.lower()))


async def listing(session: AsyncSession, *, include_inactive: bool, limit: int) -> list[Promotion]:
    statement = select(Promotion).order_by(Promotion.created_at.desc(), Promotion.id.desc()).limit(limit)
    if not include_inactive:
        statement = statement.where(Promotion.active)
    return list((await session.scalars(statement)).all())


async def automatic_candidates(session: AsyncSession, now: datetime) -> list[Promotion]:
    """Active automatic promotions (no code) within their window and not used up, oldest first."""
    statement = (
        select(Promotion)
        .where(
            Promotion.active,
            Promotion.code.is_(None),
            or_(Promotion.starts_at.is_(None), Promotion.starts_at <= now),
            or_(Promotion.ends_at.is_(None), Promotion.ends_at > now),
            or_(Promotion.usage_limit.is_(None), Promotion.used_count < Promotion.usage_limit),
        )
        .order_by(Promotion.created_at, Promotion.id)
    )
    return list((await session.scalars(statement)).all())


async def customer_uses(
    session: AsyncSession, promotion_ids: Sequence[uuid.UUID], user_id: uuid.UUID | None
) -> dict[uuid.UUID, int]:
    """How many uses `user_id` holds of each of `promotion_ids` (absent: none)."""
    if user_id is None or not promotion_ids:
        return {}
    statement = (
        select(PromotionUse.promotion_id, func.count())
        .where(PromotionUse.promotion_id.in_(promotion_ids), PromotionUse.user_id == user_id)
        .group_by(PromotionUse.promotion_id)
    )
    return {promotion_id: int(n) for promotion_id, n in (await session.execute(statement)).all()}


async def insert(session: AsyncSession, values: dict[str, Any]) -> Promotion:
    promotion = Promotion(**values)
    session.add(promotion)
    await session.flush()
    await session.refresh(promotion)
    return promotion


async def lock(session: AsyncSession, promotion_id: uuid.UUID) -> Promotion | None:
    statement = select(Promotion).where(Promotion.id == promotion_id).with_for_update()
    return await session.scalar(statement.execution_options(populate_existing=True))


async def remove(session: AsyncSession, promotion_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(Promotion).where(Promotion.id == promotion_id).returning(Promotion.id)
    )
    return result.first() is not None


async def reserve_use(
    session: AsyncSession, promotion_id: uuid.UUID, order_id: uuid.UUID, user_id: uuid.UUID | None
) -> UseOutcome:
    """Count one use of the promotion for `order_id`, if its limits allow; idempotent per (promotion, order).

    The promotion's row is locked first (FOR UPDATE), so concurrent reservations queue; each statement after
    the lock sees every use committed before it (READ COMMITTED takes a snapshot per statement), so the
    per-customer count is exact. The window is not checked here: checkout checked it when it priced the cart.
    """
    row = (
        await session.execute(
            select(
                Promotion.active, Promotion.usage_limit, Promotion.per_customer_limit, Promotion.used_count
            )
            .where(Promotion.id == promotion_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        return UseOutcome.UNKNOWN
    active, usage_limit, per_customer_limit, used_count = row
    held = await session.scalar(
        select(PromotionUse.id).where(
            PromotionUse.promotion_id == promotion_id, PromotionUse.order_id == order_id
        )
    )
    if held is not None:
        return UseOutcome.RESERVED
    if not active:
        return UseOutcome.INACTIVE
    if usage_limit is not None and used_count >= usage_limit:
        return UseOutcome.USED_UP
    if per_customer_limit is not None:
        if user_id is None:
            return UseOutcome.CUSTOMER_LIMIT
        uses = await customer_uses(session, [promotion_id], user_id)
        if uses.get(promotion_id, 0) >= per_customer_limit:
            return UseOutcome.CUSTOMER_LIMIT
    await session.execute(
        update(Promotion).where(Promotion.id == promotion_id).values(used_count=Promotion.used_count + 1)
    )
    session.add(PromotionUse(promotion_id=promotion_id, order_id=order_id, user_id=user_id))
    await session.flush()
    return UseOutcome.RESERVED


async def release_use(session: AsyncSession, promotion_id: uuid.UUID, order_id: uuid.UUID) -> bool:
    """Give back the order's use of the promotion; False when it held none (released already: idempotent)."""
    # The promotion's row first, like reserve_use: one lock order, so a release never deadlocks a reservation.
    await session.execute(select(Promotion.id).where(Promotion.id == promotion_id).with_for_update())
    deleted = await session.execute(
        delete(PromotionUse)
        .where(PromotionUse.promotion_id == promotion_id, PromotionUse.order_id == order_id)
        .returning(PromotionUse.id)
    )
    if deleted.first() is None:
        return False
    await session.execute(
        update(Promotion)
        .where(and_(Promotion.id == promotion_id, Promotion.used_count > 0))
        .values(used_count=Promotion.used_count - 1)
    )
    return True


async def release_order_uses(session: AsyncSession, order_id: uuid.UUID) -> int:
    """Give back every use `order_id` holds (a compensating saga); how many were released."""
    promotion_ids = (
        await session.scalars(select(PromotionUse.promotion_id).where(PromotionUse.order_id == order_id))
    ).all()
    released = 0
    for promotion_id in sorted(promotion_ids):  # one order, so a stable lock order across releases
        released += await release_use(session, promotion_id, order_id)
    return released
