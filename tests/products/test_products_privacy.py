"""users' `UserDeleted` in products: the search texts that user typed, kept in the outbox with their id
(published or not), are emptied; other users' searches stay as they were."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

from eventually import eventually
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.outbox import Event, stream_name
from subgraphs.products.events import ProductEvent
from subgraphs.products.models import outbox

USERS_STREAM = stream_name(os.environ["MYSHOP_REDIS_PREFIX"], "users")


async def searches(products_db: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """userId -> search of every ProductSearched in the outbox."""
    async with products_db() as session:
        payloads = await session.scalars(
            select(outbox.table.c.payload).where(outbox.table.c.event_type == ProductEvent.PRODUCT_SEARCHED)
        )
        return {payload["userId"]: payload["search"] for payload in payloads}


async def test_user_deleted_empties_their_searches_in_the_outbox(
    products_db: async_sessionmaker[AsyncSession], redis: Any
) -> None:
    gone, kept = str(uuid.uuid4()), str(uuid.uuid4())
    async with products_db.begin() as session:
        for user_id, search in ((gone, "gift for Gwen Gone"), (kept, "teapot")):
            payload = {
                "search": search,
                "category": None,
                "resultCount": 0,
                "productIds": [],
                "userId": user_id,
            }
            await outbox.emit(session, ProductEvent.PRODUCT_SEARCHED, payload)
    now = datetime.now(UTC)
    deleted = Event(
        uuid.uuid4(), "UserDeleted", "users", 1, now, {"userId": gone, "at": now.isoformat()}, gone
    )

    await redis.xadd(USERS_STREAM, deleted.to_fields())

    found = await eventually(lambda: searches(products_db), lambda found: found[gone] == "", what="scrubbed")
    assert found == {gone: "", kept: "teapot"}
