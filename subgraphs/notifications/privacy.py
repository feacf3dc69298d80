"""What notifications holds on a user and how it forgets them (the map: subgraphs/users/privacy.py).

On users' `UserDeleted` the user's mails (recipient, subject and bodies carry their address and name),
watches and webhooks (a partner's endpoints, with their deliveries) are deleted in the consumer's
transaction, and the consumer's dead letters about them are scrubbed.
A mail being sent at that moment loses its row: the sender's `mark_sent` then finds nothing, by design.
`PersonalDataExport.notifications` is this service's part of `exportMyData`.
"""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON
from strawberry.types import Info

from shared.context import Runtime
from shared.outbox import Event
from shared.privacy import ExportPart, dead_letters_of, forget_in_dead_letters, iso, parse_user_id
from shared.subscriptions import ConsumerSpec, Handler
from subgraphs.notifications import repository, webhooks_repository
from subgraphs.notifications.models import Notification, ProductWatch, WebhookEndpoint


def user_deleted(runtime: Runtime[Any], spec: ConsumerSpec) -> Handler:
    """The `UserDeleted` handler of this process (its Redis holds the dead letters)."""
    stream = dead_letters_of(runtime, spec)

    async def handle(session: AsyncSession, event: Event) -> None:
        user_id = parse_user_id(event.payload)
        await repository.erase_user(session, user_id)
        await webhooks_repository.delete_endpoints_of(session, user_id)
        await forget_in_dead_letters(runtime.redis, stream, str(user_id))

    return handle


async def export(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    mails = await session.scalars(
        select(Notification).where(Notification.user_id == user_id).order_by(Notification.created_at)
    )
    watches = await session.scalars(
        select(ProductWatch).where(ProductWatch.user_id == user_id).order_by(ProductWatch.created_at)
    )
    webhooks = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.owner_id == user_id)
        .order_by(WebhookEndpoint.created_at)
    )
    return {
        "webhooks": [
            {
                "id": str(hook.id),
                "url": hook.url,
                "events": list(hook.events),
                "description": hook.description,
            }
            for hook in webhooks
        ],
        "mails": [
            {
                "id": str(mail.id),
                "kind": mail.kind,
                "channel": mail.channel,
                "recipient": mail.recipient,
                "subject": mail.subject,
                "body": mail.body,
                "status": mail.status,
                "createdAt": iso(mail.created_at),
                "sentAt": iso(mail.sent_at),
            }
            for mail in mails
        ],
        "watchedProducts": [
            {"productId": str(watch.product_id), "since": iso(watch.created_at)} for watch in watches
        ],
    }


@strawberry.federation.type(keys=["userId"])
class PersonalDataExport(ExportPart):
    @strawberry.field(
        description="The mails sent (or to be sent) to the user, the products they watch, their webhooks."
    )
    async def notifications(self, info: Info) -> JSON:
        return await export(info.context.session, self.user_uuid)
