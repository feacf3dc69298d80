"""Webhook endpoints as the API sees them: registration, rotation, enabling, deliveries and their replay.

PARTNER and ADMIN only. An owner sees and acts on its own endpoints; an ADMIN on every one. Another owner's
endpoint is NOT_FOUND to a partner (its existence is not told). Bounds: `max_webhooks_per_owner` endpoints
(10), a URL of at most 2048 characters (webhooks_targets.py), a description of at most 500, events from the
allow-list (webhooks_events.py) or `"*"`. Rules here, SQL in webhooks_repository.py; every action runs in
the request's transaction and never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Role
from shared.errors import BadUserInput, Conflict, Forbidden, MyShopError, NotFound
from shared.ids import parse_uuid, uuid_or_none
from shared.pagination import newest_first_cursor, newest_first_position, page_size
from subgraphs.notifications import webhooks_repository as repository
from subgraphs.notifications.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookStatus,
)
from subgraphs.notifications.settings import NotificationsSettings
from subgraphs.notifications.webhooks_events import ALL_EVENTS, ALLOWED_EVENTS
from subgraphs.notifications.webhooks_signing import new_secret, seal_secret
from subgraphs.notifications.webhooks_targets import check_url

if TYPE_CHECKING:
    from shared.context import Context

MAX_DESCRIPTION_LENGTH = 500
MAX_EVENT_NAME_LENGTH = 64
# More entries than the allow-list has is a mistake, not a subscription.
MAX_EVENTS = len(ALLOWED_EVENTS) + 1


class WebhookLimitReached(MyShopError):
    code = "WEBHOOK_LIMIT_REACHED"


@dataclass(frozen=True)
class WebhookPage:
    rows: list[WebhookEndpoint]
    size: int
    has_previous: bool
    kind: str


@dataclass(frozen=True)
class DeliveryPage:
    rows: list[WebhookDelivery]
    attempts: dict[uuid.UUID, list[WebhookAttempt]]
    size: int
    has_previous: bool
    kind: str


def webhook_cursor(kind: str, row: WebhookEndpoint) -> str:
    return newest_first_cursor(kind, row.created_at, row.id)


def delivery_cursor(kind: str, row: WebhookDelivery) -> str:
    return newest_first_cursor(kind, row.created_at, row.id)


def clean_events(events: list[str]) -> list[str]:
    """The subscription as stored: `["*"]`, or the allow-listed types without repeats; BAD_USER_INPUT with
    `input.events` otherwise."""
    field = "input.events"
    if not events or len(events) > MAX_EVENTS:
        raise BadUserInput(f'Subscribe to 1 to {MAX_EVENTS} event types, or to "*".', field=field)
    unknown = [e for e in events if e != ALL_EVENTS and e not in ALLOWED_EVENTS]
    if unknown:
        shown = ", ".join(repr(e[:MAX_EVENT_NAME_LENGTH]) for e in unknown[:5])
        raise BadUserInput(
            f"Not an event type a webhook receives: {shown}.", field=field, allowed=sorted(ALLOWED_EVENTS)
        )
    if ALL_EVENTS in events:
        return [ALL_EVENTS]
    return list(dict.fromkeys(events))


def clean_description(description: str | None) -> str | None:
    if description is None:
        return None
    description = description.strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise BadUserInput(
            f"A description has at most {MAX_DESCRIPTION_LENGTH} characters.", field="input.description"
        )
    if any((ord(ch) < 32 and ch not in "\t\n") or ord(ch) == 127 for ch in description):
        raise BadUserInput("A description has no control characters.", field="input.description")
    return description or None


class WebhookService:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.settings: NotificationsSettings = context.runtime.state.settings

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    async def _staff(self) -> tuple[uuid.UUID, bool]:
        """The caller's user id and whether it is an ADMIN (PARTNER or ADMIN only)."""
        principal = await self.context.require_principal()
        if not principal.has_any_role(Role.ADMIN, Role.PARTNER):
            raise Forbidden("Webhooks are for partners and admins.")
        user_id = uuid_or_none(principal.user_id)
        if user_id is None:
            raise Forbidden("Webhooks belong to a signed-in partner or admin.")
        return user_id, principal.has_any_role(Role.ADMIN)

    async def _own(self, raw_id: object, field: str = "id", *, lock: bool = False) -> WebhookEndpoint:
        """The caller's endpoint (any, for an ADMIN); NOT_FOUND otherwise."""
        user_id, admin = await self._staff()
        endpoint_id = parse_uuid(raw_id, field, "a webhook id")
        endpoint = await repository.get_endpoint(self.session, endpoint_id, lock=lock)
        if endpoint is None or not (admin or endpoint.owner_id == user_id):
            raise NotFound("No webhook of yours has this id.", field=field)
        return endpoint

    # --- endpoints ---

    async def create(
        self, url: str, events: list[str], description: str | None
    ) -> tuple[WebhookEndpoint, str]:
        """A new ACTIVE endpoint and its secret (shown this once)."""
        owner_id, _ = await self._staff()
        subscribed = clean_events(events)
        description = clean_description(description)
        url = await check_url(url.strip(), private_allowed=self.settings.webhook_private_targets)
        await repository.lock_owner(self.session, owner_id)
        limit = self.settings.max_webhooks_per_owner
        if await repository.count_endpoints(self.session, owner_id) >= limit:
            raise WebhookLimitReached(f"An owner has at most {limit} webhooks.", field="input.url")
        secret = new_secret()
        endpoint = await repository.insert_endpoint(
            self.session,
            {
                "id": uuid.uuid4(),
                "owner_id": owner_id,
                "url": url,
                "events": subscribed,
                "description": description,
                "sealed_secret": seal_secret(self.settings.service_secret, secret),
            },
        )
        return endpoint, secret

    async def get(self, raw_id: object) -> WebhookEndpoint | None:
        try:
            return await self._own(raw_id)
        except (NotFound, BadUserInput):
            return None

    async def page(self, *, first: int | None, after: str | None) -> WebhookPage:
        user_id, admin = await self._staff()
        size = page_size(first)
        kind = "webhooks:all" if admin else f"webhooks:{user_id}"
        position = newest_first_position(after, kind) if after is not None else None
        rows = await repository.endpoints_page(
            self.session, None if admin else user_id, after=position, limit=size + 1
        )
        return WebhookPage(rows, size, after is not None, kind)

    async def delete(self, raw_id: object) -> bool:
        """Remove an endpoint with its deliveries; false when there was none (of the caller's)."""
        try:
            endpoint = await self._own(raw_id, lock=True)
        except NotFound:
            return False
        return await repository.delete_endpoint(self.session, endpoint.id)

    async def rotate_secret(self, raw_id: object) -> tuple[WebhookEndpoint, str]:
        """A new secret (shown this once); the one it replaces keeps signing beside it for the overlap."""
        endpoint = await self._own(raw_id, lock=True)
        secret = new_secret()
        overlap = self.settings.webhook_secret_overlap_seconds
        updated = await repository.update_endpoint(
            self.session,
            endpoint.id,
            {
                "sealed_secret": seal_secret(self.settings.service_secret, secret),
                "sealed_previous_secret": endpoint.sealed_secret if overlap else None,
                "previous_secret_expires_at": datetime.now(UTC) + timedelta(seconds=overlap)
                if overlap
                else None,
            },
        )
        return updated, secret

    async def enable(self, raw_id: object) -> WebhookEndpoint:
        """A DISABLED endpoint ACTIVE again, its failure run forgotten and its waiting deliveries due now; an
        ACTIVE one as it is."""
        endpoint = await self._own(raw_id, lock=True)
        if endpoint.status == WebhookStatus.ACTIVE:
            return endpoint
        await repository.due_now(self.session, endpoint.id)
        return await repository.update_endpoint(
            self.session,
            endpoint.id,
            {
                "status": WebhookStatus.ACTIVE,
                "dead_in_a_row": 0,
                "failing_since": None,
                "disabled_at": None,
                "disabled_reason": None,
                "owner_notified": True,
            },
        )

    # --- deliveries ---

    async def deliveries(
        self, raw_webhook_id: object, status: str | None, *, first: int | None, after: str | None
    ) -> DeliveryPage:
        endpoint = await self._own(raw_webhook_id, "webhookId")
        size = page_size(first)
        kind = f"webhook-deliveries:{endpoint.id}:{status or ''}"
        position = newest_first_position(after, kind) if after is not None else None
        rows = await repository.deliveries_page(
            self.session, endpoint.id, status, after=position, limit=size + 1
        )
        attempts = await repository.attempts_of(self.session, [row.id for row in rows[:size]])
        return DeliveryPage(rows, attempts, size, after is not None, kind)

    async def replay_all(self, raw_webhook_id: object) -> int:
        """Every DEAD delivery of the endpoint back to PENDING with fresh tries; how many."""
        endpoint = await self._own(raw_webhook_id, "webhookId")
        return await repository.replay_dead(self.session, endpoint.id)

    async def replay_one(self, raw_id: object) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
        """A DEAD delivery back to PENDING with fresh tries; CONFLICT for one that is not DEAD."""
        delivery_id = parse_uuid(raw_id, "id", "a webhook delivery id")
        delivery = await repository.get_delivery(self.session, delivery_id)
        if delivery is None:
            raise NotFound("No webhook delivery of yours has this id.", field="id")
        try:
            await self._own(delivery.endpoint_id)
        except NotFound as exc:
            raise NotFound("No webhook delivery of yours has this id.", field="id") from exc
        if delivery.status != WebhookDeliveryStatus.DEAD:
            raise Conflict(f"Only a DEAD delivery is replayed; this one is {delivery.status}.", field="id")
        replayed = await repository.replay_one(self.session, delivery_id)
        if replayed is None:  # replayed by a concurrent request meanwhile
            raise Conflict("This delivery is no longer DEAD.", field="id")
        return replayed, (await repository.attempts_of(self.session, [delivery_id]))[delivery_id]
