"""Per-request DataLoaders: every `Notification` reference of one request is read with one query."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from subgraphs.notifications import repository
from subgraphs.notifications.models import Notification

if TYPE_CHECKING:
    from shared.context import Context


class NotificationLoaders:
    def __init__(self, session: Callable[[], AsyncSession]) -> None:
        self._session = session
        self.notification: DataLoader[uuid.UUID, Notification | None] = DataLoader(
            load_fn=self._load_notifications
        )

    async def _load_notifications(self, ids: Sequence[uuid.UUID]) -> list[Notification | None]:
        found = {row.id: row for row in await repository.get_notifications(self._session(), list(set(ids)))}
        return [found.get(notification_id) for notification_id in ids]

    def remember(self, row: Notification) -> None:
        self.notification.prime(row.id, row, force=True)


def build_loaders(context: Context) -> NotificationLoaders:
    return NotificationLoaders(lambda: context.session)
