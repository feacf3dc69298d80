"""What webhooks deliver, and the consumer group `webhooks` that turns events into deliveries.

The allow-list (what `createWebhook(events:)` accepts; `"*"` means all of it): the events of an order's life
after the sale that a partner (a warehouse, a marketplace, a carrier) acts on, and nothing that carries a
secret or personal data a partner may not see. Users' events (addresses, names, sealed account tokens) are
out; so are carts (`CartAbandoned`: a customer's browsing), the catalog and stock (products, inventory: not
asked of webhooks). An event's payload goes out as its producer wrote it (ids, amounts, lines; no address).

The consumer (its own `shared.consumer.Consumer`, group `webhooks`, run as a worker of the notifications
process) handles each event once (`processed_events`, as every consumer): it stores the event once and
inserts one PENDING delivery per endpoint subscribed to its type and registered before it happened, unique
per (endpoint, event), so a redelivered event makes no second delivery. The dispatcher
(webhooks_dispatch.py) sends them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import Consumer
from shared.metrics import ConsumerMetrics
from shared.outbox import Event
from shared.subscriptions import ConsumerSpec, Subscription
from subgraphs.notifications import webhooks_repository as repository
from subgraphs.notifications.models import processed_events
from subgraphs.notifications.settings import NotificationsSettings

if TYPE_CHECKING:
    from shared.context import Runtime

GROUP = "webhooks"
ALL_EVENTS = "*"
# Handling an event is two inserts: a failure is the database's, retried like any consumer's.
MAX_ATTEMPTS = 9

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "orders": (
        "OrderPlaced",
        "OrderStatusChanged",
        "OrderConfirmed",
        "OrderCancelled",
        "OrderFulfillmentChanged",
        "ReturnRequested",
        "ReturnApproved",
        "ReturnRejected",
        "ReturnReceived",
        "ReturnRefunded",
    ),
    "payments": ("PaymentProcessed", "PaymentRefunded"),
    "shipping": (
        "ShipmentCreated",
        "ShipmentShipped",
        "ShipmentDelivered",
        "ShipmentReturned",
        "ShipmentCancelled",
    ),
}
ALLOWED_EVENTS: frozenset[str] = frozenset(kind for kinds in EVENT_TYPES.values() for kind in kinds)


def ordering_key(event: Event) -> str:
    """Deliveries of one key to one endpoint go out in order: the order's id when the event has one (an
    order's, its payment's, shipments' and returns' events in one line), else its aggregate's."""
    order_id = event.payload.get("orderId")
    return str(order_id or event.aggregate_id or event.id)[:100]


def envelope(event: Event) -> dict[str, object]:
    return {"id": event.id, "type": event.type, "producer": event.producer, "occurred_at": event.occurred_at}


def webhook_consumer_spec(settings: NotificationsSettings) -> ConsumerSpec:
    async def event_to_deliveries(session: AsyncSession, event: Event) -> None:
        endpoints = await repository.subscribed_endpoints(session, event.type, event.occurred_at)
        if not endpoints:
            return  # nobody subscribed: the event is not kept
        stored = {**envelope(event), "data": event.payload}
        # Not before the grace after it happened: see `webhook_ordering_grace_seconds`.
        first = event.occurred_at + timedelta(seconds=settings.webhook_ordering_grace_seconds)
        await repository.insert_deliveries(
            session, stored, ordering_key(event), endpoints, first_attempt_at=first
        )

    return ConsumerSpec(
        group=GROUP,
        subscriptions=[
            Subscription(producer, dict.fromkeys(kinds, event_to_deliveries))
            for producer, kinds in EVENT_TYPES.items()
        ],
        processed=processed_events,
        max_attempts=MAX_ATTEMPTS,
    )


async def consume_webhook_events(runtime: Runtime) -> None:
    """The worker of the group `webhooks`, configured like the service's own consumer."""
    settings = runtime.settings
    await Consumer(
        webhook_consumer_spec(runtime.state.settings),
        runtime.sessionmaker,
        runtime.redis,
        settings.redis_prefix,
        batch_size=settings.consumer_batch_size,
        block_ms=settings.consumer_block_ms,
        claim_idle=settings.consumer_claim_idle_seconds,
        retry_base=settings.consumer_retry_base_seconds,
        metrics=ConsumerMetrics.on(runtime.metrics.registry),
    ).run()
