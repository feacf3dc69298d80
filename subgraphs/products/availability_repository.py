"""SQL of the availability products keeps from inventory's StockChanged events (what `inStock` reads)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Each variant's kept level, as of when: one statement whatever their number (arrays bound, so one prepared
# statement serves every batch size).
_RECORD_AVAILABILITIES = text(
    """
    UPDATE product_variants AS variant
    SET available_units = level.available, availability_at = level.at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:available AS integer[]), CAST(:ats AS timestamptz[]))
        AS level(id, available, at)
    WHERE variant.id = level.id AND (variant.availability_at IS NULL OR variant.availability_at <= level.at)
    """
)


async def record_availabilities(
    session: AsyncSession, levels: Mapping[uuid.UUID, tuple[int, datetime]]
) -> int:
    """Keep each variant's available units as of when ({variant id: (available, as of when)}), unless a level
    of a later moment is kept already (events may arrive out of order: a retried one after its successors),
    in one statement; how many changed (an unknown variant, or an older level, changes nothing). Its
    `updated_at` is left alone: not a change of the variant itself."""
    if not levels:
        return 0
    result = await session.execute(
        _RECORD_AVAILABILITIES,
        {
            "ids": list(levels),
            "available": [max(available, 0) for available, _ in levels.values()],
            "ats": [at for _, at in levels.values()],
        },
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def record_availability(
    session: AsyncSession, variant_id: uuid.UUID, available: int, at: datetime
) -> bool:
    """`record_availabilities` for one variant: whether it changed."""
    return await record_availabilities(session, {variant_id: (available, at)}) == 1
