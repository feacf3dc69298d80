"""The notifications domain as the API sees it: a user's notifications, product watches, an admin's resend.
Rules here, SQL in repository.py; every action runs in the request's transaction and never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.errors import Conflict, Forbidden, MyShopError, NotFound
from shared.ids import parse_uuid, uuid_or_none
from shared.pagination import newest_first_cursor, newest_first_position, page_size
from shared.peers import PeerError, PeerUnavailable
from subgraphs.notifications import repository
from subgraphs.notifications.models import Notification, NotificationStatus, ProductWatch
from subgraphs.notifications.state import NotificationsState

if TYPE_CHECKING:
    from shared.context import Context

T = TypeVar("T")


class ServiceUnavailable(MyShopError):
    """A service this one needs did not answer; trying again later may work."""

    code = "SERVICE_UNAVAILABLE"


class WatchLimitReached(MyShopError):
    code = "WATCH_LIMIT_REACHED"


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    size: int
    has_previous: bool
    kind: str


def notification_cursor(page_kind: str, row: Notification) -> str:
    return newest_first_cursor(page_kind, row.created_at, row.id)


def watch_cursor(page_kind: str, row: ProductWatch) -> str:
    return newest_first_cursor(page_kind, row.created_at, row.product_id)


class NotificationService:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.state: NotificationsState = context.runtime.state

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    async def _owner_or_admin(self, user_id: object, what: str) -> Principal:
        principal = await self.context.require_principal()
        if not (principal.is_user(user_id) or principal.has_any_role(Role.ADMIN)):
            raise Forbidden(f"Only the user themself or an admin sees {what}.")
        return principal

    # --- notifications ---

    async def user_notifications(
        self, raw_user_id: object, *, first: int | None, after: str | None
    ) -> Page[Notification]:
        await self._owner_or_admin(raw_user_id, "a user's notifications")
        size = page_size(first)
        user_id = uuid_or_none(raw_user_id)
        kind = f"notifications:{user_id}"
        position = newest_first_position(after, kind) if after is not None else None
        if user_id is None:
            return Page([], size, after is not None, kind)
        rows = await repository.notifications_page(self.session, user_id, after=position, limit=size + 1)
        for row in rows:
            self.context.loaders.remember(row)
        return Page(rows, size, after is not None, kind)

    async def get_notification(self, raw_id: object) -> Notification | None:
        """A notification for its user or an admin; None when there is none, FORBIDDEN for anyone else."""
        principal = await self.context.require_principal()
        notification_id = uuid_or_none(raw_id)
        row = await self.context.loaders.notification.load(notification_id) if notification_id else None
        if row is None:
            return None
        if not (principal.is_user(row.user_id) or principal.has_any_role(Role.ADMIN)):
            raise Forbidden("Only its user or an admin sees a notification.")
        return row

    async def resend(self, raw_id: object) -> Notification:
        """A FAILED notification goes back to PENDING (attempts from zero): the sender tries it again. Not a
        mail that carried a token: its token is gone (a new one is the user's to ask for)."""
        notification_id = parse_uuid(raw_id, "id", "a notification id")
        row = await repository.resend(self.session, notification_id)
        if row is None:
            existing = await self.context.loaders.notification.load(notification_id)
            if existing is None:
                raise NotFound("No notification has this id.", field="id")
            if existing.token_purpose is not None and existing.status == NotificationStatus.FAILED:
                raise Conflict(
                    "This mail carried a one-time code, forgotten when it failed: the user asks a new one.",
                    field="id",
                )
            raise Conflict(f"Only a FAILED notification is sent again; this one is {existing.status}.")
        self.context.loaders.remember(row)
        return row

    # --- watches ---

    async def _watcher(self) -> uuid.UUID:
        principal = await self.context.require_principal()
        user_id = uuid_or_none(principal.user_id)
        if user_id is None:
            raise Forbidden("Only a signed-in user watches products.")
        return user_id

    async def watch(self, raw_product_id: object) -> ProductWatch:
        """Watch a product (idempotent: watching it again returns the watch there is)."""
        user_id = await self._watcher()
        product_id = parse_uuid(raw_product_id, "productId", "a product id")
        existing = await repository.get_watch(self.session, user_id, product_id)
        if existing is not None:
            return existing
        if await repository.count_watches(self.session, user_id) >= self.state.settings.max_watches_per_user:
            raise WatchLimitReached(
                f"A user watches at most {self.state.settings.max_watches_per_user} products.",
                field="productId",
            )
        try:
            known = await self.state.directory.products_named([str(product_id)])
        except PeerUnavailable as exc:
            raise ServiceUnavailable("The catalog cannot be reached; try again.") from exc
        except PeerError as exc:
            raise ServiceUnavailable("The catalog refused the lookup; try again.") from exc
        if str(product_id) not in known:
            raise NotFound("No product has this id.", field="productId")
        created = await repository.insert_watch(self.session, user_id, product_id)
        if created is not None:
            return created
        # A concurrent watch of the same product committed first (ON CONFLICT waited for it).
        existing = await repository.get_watch(self.session, user_id, product_id)
        assert existing is not None
        return existing

    async def unwatch(self, raw_product_id: object) -> bool:
        """Stop watching; true when a watch was removed, false when there was none (idempotent)."""
        user_id = await self._watcher()
        product_id = uuid_or_none(raw_product_id)
        if product_id is None:
            return False
        return await repository.delete_watch(self.session, user_id, product_id)

    async def watched(
        self, raw_user_id: object, *, first: int | None, after: str | None
    ) -> Page[ProductWatch]:
        await self._owner_or_admin(raw_user_id, "a user's watched products")
        size = page_size(first)
        user_id = uuid_or_none(raw_user_id)
        kind = f"watches:{user_id}"
        position = newest_first_position(after, kind) if after is not None else None
        if user_id is None:
            return Page([], size, after is not None, kind)
        rows = await repository.watches_page(self.session, user_id, after=position, limit=size + 1)
        return Page(rows, size, after is not None, kind)
