"""Reads and searches of the catalog, counted in memory and written to the outbox in batches.

Analytics wants every product read by id (`ProductViewed`) and every search (`ProductSearched`), but the read
path must stay a read: a request only bumps an in-memory counter; a worker writes the batch to the outbox
every few seconds in one transaction (`ProductViewed` carries a `count`). A crash loses at most one interval
of counts (analytics figures, not money); a burst beyond `max_searches` drops the excess, counted by a metric.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

from shared.context import Context, Runtime
from subgraphs.products.events import ProductEvent
from subgraphs.products.metrics import ProductsMetrics
from subgraphs.products.models import outbox

if TYPE_CHECKING:
    from subgraphs.products.state import ProductsState

logger = logging.getLogger(__name__)


class Activity:
    def __init__(self, runtime: Runtime, metrics: ProductsMetrics, *, max_searches: int = 10_000) -> None:
        self.sessionmaker = runtime.sessionmaker
        self.max_searches = max_searches
        self.views: Counter[tuple[str, str | None]] = Counter()
        self.searches: list[dict[str, Any]] = []
        self.dropped = metrics.activity_dropped

    def viewed(self, product_id: str, user_id: str | None) -> None:
        self.views[(product_id, user_id)] += 1

    def searched(
        self,
        search: str,
        category: str | None,
        result_count: int,
        product_ids: list[str],
        user_id: str | None,
    ) -> None:
        if len(self.searches) >= self.max_searches:
            self.dropped.inc()
            return
        self.searches.append(
            {
                "search": search,
                "category": category,
                "resultCount": result_count,
                "productIds": product_ids,
                "userId": user_id,
            }
        )

    async def flush(self) -> int:
        """Write what was counted since the last flush to the outbox; how many events."""
        views, self.views = self.views, Counter()
        searches, self.searches = self.searches, []
        if not views and not searches:
            return 0
        events = [
            outbox.event(
                ProductEvent.PRODUCT_VIEWED,
                {"productId": product_id, "userId": user_id, "count": count},
                aggregate_id=product_id,
            )
            for (product_id, user_id), count in views.items()
        ]
        events += [outbox.event(ProductEvent.PRODUCT_SEARCHED, search) for search in searches]
        # One statement for the batch: a flush after a busy interval writes thousands of events, and one
        # INSERT each cost the service a quarter of the CPU of the searches it counted
        # (bench/products_search.py).
        async with self.sessionmaker() as session, session.begin():
            await outbox.write_many(session, events)
        return len(events)


def activity_of(context: Context) -> Activity | None:
    """The process's activity counter; None outside a running service (a script, a unit test)."""
    state: ProductsState | None = context.runtime.state
    return state.activity if state is not None else None


def reader_of(context: Context) -> str | None:
    """Whose view or search it is, as analytics counts them: the verified caller's user id, else None."""
    principal = context.verified_principal
    return principal.user_id if principal is not None else None


async def flush_activity(runtime: Runtime[ProductsState]) -> None:
    """The worker: flush every `activity_flush_seconds`, and once more at shutdown."""
    activity = runtime.state.activity
    interval = runtime.state.settings.activity_flush_seconds
    try:
        while True:
            await asyncio.sleep(interval)
            await activity.flush()
    finally:
        try:
            await asyncio.shield(activity.flush())
        except Exception:
            logger.warning("the last catalog activity could not be written", exc_info=True)
