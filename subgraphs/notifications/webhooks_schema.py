"""The webhook part of the notifications schema: types and thin resolvers over `WebhookService`. `Query` and
`Mutation` in schema.py inherit `WebhookQuery` and `WebhookMutation`."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdminOrPartner, guarded
from shared.pagination import Connection, connection
from subgraphs.notifications import models
from subgraphs.notifications.webhooks import WebhookService, delivery_cursor, webhook_cursor

if TYPE_CHECKING:
    from subgraphs.notifications.schema import User

PAGED = ListSize(slicing_arguments=["first"], sized_fields=["edges", "nodes"])


@strawberry.enum(description="Whether a webhook receives its events.")
class WebhookStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@strawberry.enum(description="Where one event's delivery to one webhook stands.")
class WebhookDeliveryStatus(enum.Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    DEAD = "DEAD"


@strawberry.type(description="An endpoint MyShop POSTs events to, signed (see examples/webhook_verify.py).")
class Webhook:
    id: strawberry.ID
    url: str
    events: list[str] = strawberry.field(description='The event types it receives; ["*"]: all of them.')
    description: str | None
    status: WebhookStatus
    disabled_at: datetime | None
    disabled_reason: str | None = strawberry.field(description="Why it was DISABLED (a run of failures).")
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="After a rotation, until when the previous secret signs too (a second `v1=`)."
    )
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[models.WebhookEndpoint]

    @strawberry.field(description="Who registered it.")
    def owner(self) -> Annotated[User, strawberry.lazy("subgraphs.notifications.schema")]:
        from subgraphs.notifications.schema import User

        return User(id=strawberry.ID(str(self.row.owner_id)))

    @classmethod
    def from_row(cls, row: models.WebhookEndpoint) -> Webhook:
        return cls(
            id=strawberry.ID(str(row.id)),
            url=row.url,
            events=list(row.events),
            description=row.description,
            status=WebhookStatus(row.status),
            disabled_at=row.disabled_at,
            disabled_reason=row.disabled_reason,
            previous_secret_expires_at=row.previous_secret_expires_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )


@strawberry.type(description="A webhook with its signing secret: shown this once, store it.")
class WebhookWithSecret:
    webhook: Webhook
    secret: str


@strawberry.input
class CreateWebhookInput:
    url: str = strawberry.field(
        description="http(s), at most 2048 characters; public addresses in production."
    )
    events: list[str] = strawberry.field(
        description='Event types (OrderPlaced, ShipmentShipped, ...: README "Webhooks"), or ["*"] for all.'
    )
    description: str | None = strawberry.field(default=None, description="At most 500 characters.")


@strawberry.type(description="One POST of a delivery.")
class WebhookAttempt:
    attempt: int
    attempted_at: datetime
    response_status: int | None = strawberry.field(description="The answer's HTTP status; null: no answer.")
    error: str | None = strawberry.field(description="Why it failed: a status, a timeout, no connection.")
    duration_ms: int

    @classmethod
    def from_row(cls, row: models.WebhookAttempt) -> WebhookAttempt:
        return cls(
            attempt=row.attempt,
            attempted_at=row.attempted_at,
            response_status=row.response_status,
            error=row.error,
            duration_ms=row.duration_ms,
        )


@strawberry.type(description="One event to one webhook: its tries and where it stands.")
class WebhookDelivery:
    id: strawberry.ID
    webhook_id: strawberry.ID
    event_id: strawberry.ID = strawberry.field(
        description="The event's id (`MyShop-Event-Id`, the body's `id`)."
    )
    event_type: str
    status: WebhookDeliveryStatus
    attempts: int = strawberry.field(description="Tries so far (a replay starts them over).")
    next_attempt_at: datetime | None = strawberry.field(description="When it is tried next (PENDING only).")
    last_response_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    history: list[WebhookAttempt] = strawberry.field(description="Every try, oldest first.")

    @classmethod
    def from_row(cls, row: models.WebhookDelivery, attempts: list[models.WebhookAttempt]) -> WebhookDelivery:
        pending = row.status == models.WebhookDeliveryStatus.PENDING
        return cls(
            id=strawberry.ID(str(row.id)),
            webhook_id=strawberry.ID(str(row.endpoint_id)),
            event_id=strawberry.ID(str(row.event_id)),
            event_type=row.event_type,
            status=WebhookDeliveryStatus(row.status),
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at if pending else None,
            last_response_status=row.last_response_status,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            dead_at=row.dead_at,
            history=[WebhookAttempt.from_row(attempt) for attempt in attempts],
        )


def _with_secret(pair: tuple[models.WebhookEndpoint, str]) -> WebhookWithSecret:
    return WebhookWithSecret(webhook=Webhook.from_row(pair[0]), secret=pair[1])


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        **guarded(IsAdminOrPartner, PAGED),
        description="Your webhooks, newest first (PARTNER, ADMIN: an ADMIN sees everyone's).",
    )
    async def webhooks(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[Webhook]:
        page = await WebhookService(info.context).page(first=first, after=after)
        cursors = {str(row.id): webhook_cursor(page.kind, row) for row in page.rows}
        return connection(
            [Webhook.from_row(row) for row in page.rows],
            size=page.size,
            cursor_of=lambda node: cursors[node.id],
            has_previous=page.has_previous,
        )

    @strawberry.field(**guarded(IsAdminOrPartner), description="One of your webhooks; null when none.")
    async def webhook(self, info: Info, id: strawberry.ID) -> Webhook | None:
        row = await WebhookService(info.context).get(id)
        return Webhook.from_row(row) if row is not None else None

    @strawberry.field(
        **guarded(IsAdminOrPartner, PAGED),
        description="A webhook's deliveries, newest first, with every try (its owner or an ADMIN).",
    )
    async def webhook_deliveries(
        self,
        info: Info,
        webhook_id: strawberry.ID,
        status: WebhookDeliveryStatus | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[WebhookDelivery]:
        wanted = status.value if status is not None else None
        page = await WebhookService(info.context).deliveries(webhook_id, wanted, first=first, after=after)
        cursors = {str(row.id): delivery_cursor(page.kind, row) for row in page.rows}
        return connection(
            [WebhookDelivery.from_row(row, page.attempts.get(row.id, [])) for row in page.rows],
            size=page.size,
            cursor_of=lambda node: cursors[node.id],
            has_previous=page.has_previous,
        )


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        **guarded(IsAdminOrPartner),
        description="Register an endpoint (at most 10 per owner); its secret is in the answer, this once.",
    )
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> WebhookWithSecret:
        return _with_secret(
            await WebhookService(info.context).create(input.url, input.events, input.description)
        )

    @strawberry.mutation(
        **guarded(IsAdminOrPartner),
        description="Remove a webhook and its deliveries: true when one was removed, false when none.",
    )
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> bool:
        return await WebhookService(info.context).delete(id)

    @strawberry.mutation(
        **guarded(IsAdminOrPartner),
        description="A new signing secret (in the answer, this once); the previous one signs too for 24 h.",
    )
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookWithSecret:
        return _with_secret(await WebhookService(info.context).rotate_secret(id))

    @strawberry.mutation(
        **guarded(IsAdminOrPartner),
        description="ACTIVE again after it was DISABLED: its waiting deliveries go out (DEAD ones: replay).",
    )
    async def enable_webhook(self, info: Info, id: strawberry.ID) -> Webhook:
        return Webhook.from_row(await WebhookService(info.context).enable(id))

    @strawberry.mutation(
        **guarded(IsAdminOrPartner),
        description="Send a webhook's DEAD deliveries again, tries from zero; how many.",
    )
    async def replay_webhook_deliveries(self, info: Info, webhook_id: strawberry.ID) -> int:
        return await WebhookService(info.context).replay_all(webhook_id)

    @strawberry.mutation(
        **guarded(IsAdminOrPartner),
        description="Send one DEAD delivery again, tries from zero (CONFLICT for one that is not DEAD).",
    )
    async def replay_webhook_delivery(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        row, attempts = await WebhookService(info.context).replay_one(id)
        return WebhookDelivery.from_row(row, attempts)
