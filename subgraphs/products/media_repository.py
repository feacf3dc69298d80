"""SQL for `product_media`, nothing else: rules live in media.py."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import any_of
from subgraphs.products.models import ProductMedia

# A product's gallery in the shop's order; equal positions (two uploads at once) by age, then id.
_ORDER = (ProductMedia.position, ProductMedia.created_at, ProductMedia.id)


def _ids(name: str, ids: Sequence[uuid.UUID]) -> Any:
    return bindparam(name, list(ids), type_=ARRAY(ProductMedia.id.type))


async def insert(session: AsyncSession, values: Mapping[str, Any]) -> ProductMedia:
    row = ProductMedia(**values)
    session.add(row)
    await session.flush()
    await session.refresh(row)  # created_at, the server's default
    return row


async def by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[ProductMedia]:
    if not ids:
        return []
    statement = select(ProductMedia).where(any_of(ProductMedia.id, "ids", ids))
    return list((await session.scalars(statement)).all())


async def get_for_update(session: AsyncSession, media_id: uuid.UUID) -> ProductMedia | None:
    statement = select(ProductMedia).where(ProductMedia.id == media_id).with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def of_products(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> list[ProductMedia]:
    """Every image of these products, each product's in gallery order, in one statement."""
    if not product_ids:
        return []
    statement = (
        select(ProductMedia)
        .where(any_of(ProductMedia.product_id, "ids", product_ids))
        .order_by(ProductMedia.product_id, *_ORDER)
    )
    return list((await session.scalars(statement)).all())


async def count_of_product(session: AsyncSession, product_id: uuid.UUID) -> tuple[int, int]:
    """(how many images the product has, the position after its last)."""
    statement = select(func.count(), func.coalesce(func.max(ProductMedia.position) + 1, 0)).where(
        ProductMedia.product_id == product_id
    )
    count, next_position = (await session.execute(statement)).one()
    return int(count), int(next_position)


async def update_fields(session: AsyncSession, media_id: uuid.UUID, values: Mapping[str, Any]) -> None:
    await session.execute(update(ProductMedia).where(ProductMedia.id == media_id).values(**values))


async def set_positions(session: AsyncSession, ordered_ids: Sequence[uuid.UUID]) -> None:
    """Positions 0, 1, 2, ... in this order (one UPDATE)."""
    if not ordered_ids:
        return
    positions = select(
        func.unnest(_ids("ids", ordered_ids)).label("id"),
        (func.generate_subscripts(_ids("same_ids", ordered_ids), 1) - 1).label("position"),
    ).subquery()
    await session.execute(
        update(ProductMedia)
        .where(ProductMedia.id == positions.c.id)
        .values(position=positions.c.position)
        .execution_options(synchronize_session=False)
    )


async def remove(session: AsyncSession, media_id: uuid.UUID) -> None:
    await session.execute(delete(ProductMedia).where(ProductMedia.id == media_id))
