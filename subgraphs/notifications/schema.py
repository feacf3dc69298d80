"""The notifications subgraph's GraphQL schema: thin resolvers over `NotificationService`, the admin
operations on the consumer's dead letters (`shared.deadletters`), and the webhooks (webhooks_schema.py)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.federation.schema_directives import Key, ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, IsAuthenticated, guarded
from shared.deadletters import dead_letter_mutation, dead_letter_query
from shared.graphql import build_schema
from shared.pagination import Connection, connection
from subgraphs.notifications import models
from subgraphs.notifications.privacy import PersonalDataExport
from subgraphs.notifications.service import NotificationService, notification_cursor, watch_cursor
from subgraphs.notifications.webhooks_schema import WebhookMutation, WebhookQuery


@strawberry.enum(description="How a notification reaches its user.")
class NotificationChannel(enum.Enum):
    EMAIL = "EMAIL"


@strawberry.enum(description="Where a notification's delivery stands.")
class NotificationStatus(enum.Enum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


@strawberry.enum(description="What a notification is about.")
class NotificationKind(enum.Enum):
    WELCOME = "WELCOME"
    ORDER_CONFIRMED = "ORDER_CONFIRMED"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    PRICE_DROP = "PRICE_DROP"
    BACK_IN_STOCK = "BACK_IN_STOCK"
    EMAIL_VERIFICATION = "EMAIL_VERIFICATION"
    SIGN_UP_ATTEMPTED = "SIGN_UP_ATTEMPTED"
    PASSWORD_RESET = "PASSWORD_RESET"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    EMAIL_CHANGE_CONFIRMATION = "EMAIL_CHANGE_CONFIRMATION"
    EMAIL_CHANGE_REQUESTED = "EMAIL_CHANGE_REQUESTED"
    EMAIL_CHANGED = "EMAIL_CHANGED"
    SHIPMENT_SHIPPED = "SHIPMENT_SHIPPED"
    SHIPMENT_DELIVERED = "SHIPMENT_DELIVERED"
    RETURN_APPROVED = "RETURN_APPROVED"
    RETURN_REJECTED = "RETURN_REJECTED"
    RETURN_REFUNDED = "RETURN_REFUNDED"
    CART_REMINDER = "CART_REMINDER"
    WEBHOOK_DISABLED = "WEBHOOK_DISABLED"


@strawberry.federation.type(keys=[Key(fields="id", resolvable=False)])
class Product:
    id: strawberry.ID


@strawberry.federation.type(keys=["id"], description="A message MyShop sends a user, and its delivery.")
class Notification:
    id: strawberry.ID
    channel: NotificationChannel
    kind: NotificationKind
    subject: str
    body: str = strawberry.field(
        description="The plain-text body; a one-time code or link in it shows masked (only the mail has it)."
    )
    body_html: str = strawberry.field(description="The HTML body (the same message, masked the same way).")
    recipient: str | None = strawberry.field(description="The address it goes to; null when none was known.")
    status: NotificationStatus
    failure_reason: str | None = strawberry.field(
        description="Why it FAILED, or why the last try failed while it is PENDING again."
    )
    attempts: int = strawberry.field(description="Sends tried so far.")
    created_at: datetime
    sent_at: datetime | None
    row: strawberry.Private[models.Notification]

    @strawberry.field
    def user(self) -> User:
        return User(id=strawberry.ID(str(self.row.user_id)))

    @classmethod
    def from_row(cls, row: models.Notification) -> Notification:
        return cls(
            id=strawberry.ID(str(row.id)),
            channel=NotificationChannel(row.channel),
            kind=NotificationKind(row.kind),
            subject=row.subject,
            body=row.body,
            body_html=row.body_html,
            recipient=row.recipient,
            status=NotificationStatus(row.status),
            failure_reason=row.failure_reason,
            attempts=row.attempts,
            created_at=row.created_at,
            sent_at=row.sent_at,
            row=row,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Notification | None:
        row = await NotificationService(info.context).get_notification(id)
        return cls.from_row(row) if row is not None else None


@strawberry.type(description="A product a user watches: mailed when its price drops or it is back in stock.")
class ProductWatch:
    product: Product
    created_at: datetime = strawberry.field(description="Since when it is watched.")

    @classmethod
    def from_row(cls, row: models.ProductWatch) -> ProductWatch:
        return cls(product=Product(id=strawberry.ID(str(row.product_id))), created_at=row.created_at)


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @strawberry.field(
        description="The mails sent (or to be sent) to the user, newest first (self or ADMIN).",
        directives=[ListSize(slicing_arguments=["first"], sized_fields=["edges", "nodes"])],
    )
    async def notifications(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[Notification]:
        page = await NotificationService(info.context).user_notifications(self.id, first=first, after=after)
        cursors = {str(row.id): notification_cursor(page.kind, row) for row in page.rows}
        return connection(
            [Notification.from_row(row) for row in page.rows],
            size=page.size,
            cursor_of=lambda node: cursors[node.id],
            has_previous=page.has_previous,
        )

    @strawberry.field(
        description="The products the user watches, newest first (self or ADMIN).",
        directives=[ListSize(slicing_arguments=["first"], sized_fields=["edges", "nodes"])],
    )
    async def watched_products(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[ProductWatch]:
        page = await NotificationService(info.context).watched(self.id, first=first, after=after)
        nodes = [(ProductWatch.from_row(row), watch_cursor(page.kind, row)) for row in page.rows]
        cursors = {id(node): cursor for node, cursor in nodes}
        return connection(
            [node for node, _ in nodes],
            size=page.size,
            cursor_of=lambda node: cursors[id(node)],
            has_previous=page.has_previous,
        )

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)


@strawberry.type
class Query(WebhookQuery, dead_letter_query("notification")):  # type: ignore[misc]
    @strawberry.field(
        **guarded(IsAuthenticated),
        description="A notification by id: its user or ADMIN; null when there is none.",
    )
    async def notification(self, info: Info, id: strawberry.ID) -> Notification | None:
        row = await NotificationService(info.context).get_notification(id)
        return Notification.from_row(row) if row is not None else None


@strawberry.type
class Mutation(WebhookMutation, dead_letter_mutation("notification")):  # type: ignore[misc]
    @strawberry.mutation(
        **guarded(IsAuthenticated),
        description=(
            "Watch a product: a mail when its price drops or it is back in stock. Idempotent: watching it "
            "again returns the watch there is."
        ),
    )
    async def watch_product(self, info: Info, product_id: strawberry.ID) -> ProductWatch:
        return ProductWatch.from_row(await NotificationService(info.context).watch(product_id))

    @strawberry.mutation(
        **guarded(IsAuthenticated),
        description="Stop watching a product: true when a watch was removed, false when there was none.",
    )
    async def unwatch_product(self, info: Info, product_id: strawberry.ID) -> bool:
        return await NotificationService(info.context).unwatch(product_id)

    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Send a FAILED notification again (its tries start over) (ADMIN).",
    )
    async def resend_notification(self, info: Info, id: strawberry.ID) -> Notification:
        return Notification.from_row(await NotificationService(info.context).resend(id))


schema = build_schema(query=Query, mutation=Mutation, types=[Notification, User, Product, PersonalDataExport])
