"""What products holds on a user and how it forgets them (the map: subgraphs/users/privacy.py).

The catalog tables hold nothing of a user; its outbox does: `ProductSearched` carries the search text a
signed-in user typed with their id, `ProductViewed` their id (published rows are kept for the outbox
retention). On users' `UserDeleted` the personal fields of that user's rows are emptied (`shared.privacy`),
published or not, in the consumer's transaction. Its dead letters hold only its own `ProductUpdated`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox import Event
from shared.privacy import parse_user_id, scrub_outbox
from subgraphs.products.models import outbox


async def user_deleted(session: AsyncSession, event: Event) -> None:
    await scrub_outbox(session, outbox.table, str(parse_user_id(event.payload)))
