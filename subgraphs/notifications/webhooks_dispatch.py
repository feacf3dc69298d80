"""The webhook dispatcher: POSTs due deliveries, signed, and records every try.

A round claims a batch in one short transaction (`webhooks_repository.claim_due`: `FOR UPDATE SKIP LOCKED`,
one more attempt, a lease; only the earliest PENDING delivery of each (endpoint, ordering key), so an order's
events reach an endpoint in order and replicas never hold the same delivery), then POSTs them concurrently
(`webhook_concurrency`) with aiohttp under `webhook_timeout_seconds`, no redirects followed, no proxy from the
environment. Each outcome is written in a transaction of its own, fenced by the attempt number.

- 2xx: DELIVERED (the endpoint's failure run ends).
- anything else (another status, a timeout, no connection, a target refused): retried after an exponential
  backoff (`webhook_retry_initial_seconds` doubling up to `webhook_retry_max_seconds`, each wait drawn between
  half and all of that: spread, yet with a predictable span) until `webhook_max_attempts`, then DEAD: a dead
  letter that waits for `replayWebhookDelivery` / `replayWebhookDeliveries`. A DEAD delivery does not hold
  back the later ones of its order (they go on; the receiver sees the gap and the owner may replay it).
- an endpoint with `webhook_disable_after_dead` deliveries DEAD in a row, or whose every try failed for
  `webhook_disable_after_failing_seconds`, is DISABLED: its deliveries wait (new events still queue for it)
  until `enableWebhook`, and its owner is mailed (a WEBHOOK_DISABLED notification, sent by the mail sender;
  the owner's address from users, as every mail's).

Where private targets are refused (production), every POST resolves its host through `GuardedResolver` and an
IP literal is checked before connecting: a name that resolved to a public address at registration and now
answers a private one is refused (recorded as the try's error), not connected to.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import orjson
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.backoff import Backoff
from shared.peers import PeerError
from shared.sealed import SealError
from subgraphs.notifications import repository as mail_repository
from subgraphs.notifications import webhooks_repository as repository
from subgraphs.notifications.batch_loop import run_batches
from subgraphs.notifications.mail import Templates
from subgraphs.notifications.models import (
    Channel,
    NotificationKind,
    NotificationStatus,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from subgraphs.notifications.peers import Directory
from subgraphs.notifications.settings import NotificationsSettings
from subgraphs.notifications.webhooks_signing import (
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    WEBHOOK_ID_HEADER,
    open_secret,
    signature_header,
)
from subgraphs.notifications.webhooks_targets import (
    GuardedResolver,
    TargetRefused,
    ip_literal,
    public_address,
)

logger = logging.getLogger("myshop.notifications.webhooks")

ERROR_MAX_LENGTH = 500
USER_AGENT = "MyShop-Webhooks/1"
# Owners of disabled endpoints mailed per round; after users failed to answer, the next try waits this long.
NOTIFY_BATCH = 20
NOTIFY_RETRY_SECONDS = 5.0
# Ended deliveries past the retention are deleted at most this often, this many per transaction.
PRUNE_EVERY_SECONDS = 300.0
PRUNE_BATCH = 5000


class WebhookMetrics:
    """The dispatcher's counters, one set per registry (a restarted dispatcher finds them registered)."""

    _by_registry: ClassVar[dict[CollectorRegistry, WebhookMetrics]] = {}

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "myshop_webhook_attempts_total",
            "Webhook POSTs by outcome: delivered, retried (will be tried again), dead (out of tries).",
            ["outcome"],
            registry=registry,
        )
        self.disabled = Counter(
            "myshop_webhooks_disabled_total",
            "Webhook endpoints disabled after a run of failures.",
            registry=registry,
        )

    @classmethod
    def on(cls, registry: CollectorRegistry) -> WebhookMetrics:
        metrics = cls._by_registry.get(registry)
        if metrics is None:
            metrics = cls._by_registry[registry] = cls(registry)
        return metrics


def body_of(event: WebhookEvent) -> bytes:
    """The POST's body: the event envelope, `{id, type, producer, occurredAt, data}`."""
    envelope = {
        "id": str(event.id),
        "type": event.type,
        "producer": event.producer,
        "occurredAt": event.occurred_at.astimezone(UTC).isoformat(),
        "data": event.data,
    }
    return orjson.dumps(envelope)


def signing_secrets(endpoint: WebhookEndpoint, service_secret: str) -> list[str]:
    """The current secret, and the previous one while its overlap after a rotation lasts."""
    found = [open_secret(service_secret, endpoint.sealed_secret)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.sealed_previous_secret and expires is not None and expires > datetime.now(UTC):
        found.append(open_secret(service_secret, endpoint.sealed_previous_secret))
    return found


def _clip(text: str) -> str:
    return text if len(text) <= ERROR_MAX_LENGTH else text[: ERROR_MAX_LENGTH - 1] + "…"


def describe(exc: BaseException, timeout: float) -> str:
    """A failed try's error as the owner reads it in `webhookDeliveries`."""
    cause: BaseException | None = exc
    while cause is not None:  # a refused target, however deep aiohttp wrapped it
        if isinstance(cause, TargetRefused):
            return _clip(f"target refused: {cause}")
        cause = getattr(cause, "os_error", None) or cause.__cause__
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    return _clip(f"{type(exc).__name__}: {exc}")


@dataclass(slots=True)
class Try:
    """One POST of a delivery and what came of it (an error, or None when a 2xx answered)."""

    delivery: WebhookDelivery
    status: int | None
    error: str | None
    duration_ms: int
    # The endpoint this try's failure disabled, once recorded.
    disabled: WebhookEndpoint | None = None

    @property
    def delivered(self) -> bool:
        return self.error is None

    def dead(self, max_attempts: int) -> bool:
        return not self.delivered and self.delivery.attempts >= max_attempts

    def outcome(self, max_attempts: int) -> WebhookDeliveryStatus:
        if self.delivered:
            return WebhookDeliveryStatus.DELIVERED
        return WebhookDeliveryStatus.DEAD if self.dead(max_attempts) else WebhookDeliveryStatus.PENDING


class WebhookDispatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: NotificationsSettings,
        directory: Directory,
        templates: Templates,
        metrics: WebhookMetrics | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.directory = directory
        self.templates = templates
        self.metrics = metrics
        self._stopping = False
        self._notify_after = 0.0
        self._prune_after = 0.0

    # --- one round ---

    async def dispatch_due(self) -> int:
        """Claim up to a batch of due deliveries and try each once; how many were claimed."""
        settings = self.settings
        async with self.sessionmaker() as session, session.begin():
            claimed = await repository.claim_due(
                session, limit=settings.webhook_batch_size, lease_seconds=settings.webhook_lease_seconds
            )
            if not claimed:
                return 0
            events = await repository.get_events(session, [d.event_id for d in claimed])
            endpoints = await repository.get_endpoints(session, [d.endpoint_id for d in claimed])
        # Past half the lease start no more POSTs: each lasts at most the timeout, which the lease outlasts.
        stop_starting = time.monotonic() + settings.webhook_lease_seconds / 2
        slots = asyncio.Semaphore(settings.webhook_concurrency)
        private_allowed = settings.webhook_private_targets
        connector = aiohttp.TCPConnector(
            resolver=None if private_allowed else GuardedResolver(), limit=settings.webhook_concurrency
        )
        timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as http:

            async def one(delivery: WebhookDelivery) -> Try | None:
                async with slots:
                    if self._stopping or time.monotonic() > stop_starting:
                        await self._release([delivery])
                        return None
                    endpoint, event = endpoints[delivery.endpoint_id], events[delivery.event_id]
                    return await self._attempt(http, delivery, endpoint, event, private_allowed)

            tries = await asyncio.gather(*(one(delivery) for delivery in claimed))
        # One transaction for the batch's tries, not one each: measured, a commit per try held the dispatcher
        # to ~230 deliveries/s (bench/webhooks.py). Ordering is unchanged: a batch holds at most one delivery
        # per (endpoint, ordering key). A crash before this commit sends the batch again (at least once).
        await self._record([attempt for attempt in tries if attempt is not None])
        return len(claimed)

    async def _attempt(
        self,
        http: aiohttp.ClientSession,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        event: WebhookEvent,
        private_allowed: bool,
    ) -> Try:
        body = body_of(event)
        status: int | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            secrets = signing_secrets(endpoint, self.settings.service_secret)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                WEBHOOK_ID_HEADER: str(endpoint.id),
                EVENT_ID_HEADER: str(event.id),
                DELIVERY_ID_HEADER: str(delivery.id),
                SIGNATURE_HEADER: signature_header(secrets, int(time.time()), body),
            }
            if not private_allowed:
                literal = ip_literal(urlsplit(endpoint.url).hostname or "")
                if literal is not None and not public_address(literal):
                    raise TargetRefused(f"{literal} is not a public address")
            async with http.post(endpoint.url, data=body, headers=headers, allow_redirects=False) as response:
                status = response.status
                await response.content.readany()  # a little of the answer, so the connection ends cleanly
        except SealError:
            error = "the endpoint's secret does not open (the service secret changed?)"
        except (
            Exception
        ) as exc:  # whatever the request raised (aiohttp's errors, a refused target): this try failed
            error = describe(exc, self.settings.webhook_timeout_seconds)
        duration_ms = int((time.perf_counter() - started) * 1000)
        if status is not None and not 200 <= status < 300:
            error = f"answered {status}"
        return Try(delivery, status, error, duration_ms)

    async def _record(self, tries: list[Try]) -> None:
        """Each try's row and its delivery's new state, and the endpoints' run of failures, in one
        transaction; then the metrics and logs of each."""
        if not tries:
            return
        recorded: list[tuple[Try, WebhookEndpoint | None]] = []
        async with self.sessionmaker() as session, session.begin():
            for attempt in tries:
                if await self._record_one(session, attempt):
                    recorded.append((attempt, attempt.disabled))
        for attempt, disabled in recorded:
            self._report(attempt, disabled)

    async def _record_one(self, session: AsyncSession, attempt: Try) -> bool:
        settings = self.settings
        delivery = attempt.delivery
        ceiling = Backoff(
            settings.webhook_retry_initial_seconds, settings.webhook_retry_max_seconds, jitter=False
        ).ceiling(delivery.attempts)
        recorded = await repository.record_attempt(
            session,
            delivery,
            response_status=attempt.status,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
            outcome=attempt.outcome(settings.webhook_max_attempts),
            retry_in=ceiling / 2 + random.uniform(0, ceiling / 2),
        )
        if not recorded:
            logger.warning("webhook delivery %s was tried after its lease ran out", delivery.id)
            return False
        if attempt.delivered:
            await repository.endpoint_succeeded(session, delivery.endpoint_id)
        else:
            attempt.disabled = await repository.endpoint_failed(
                session,
                delivery.endpoint_id,
                dead=attempt.dead(settings.webhook_max_attempts),
                disable_after_dead=settings.webhook_disable_after_dead,
                disable_after_seconds=settings.webhook_disable_after_failing_seconds,
            )
        return True

    def _report(self, attempt: Try, disabled: WebhookEndpoint | None) -> None:
        delivery, error = attempt.delivery, attempt.error
        delivered, dead = attempt.delivered, attempt.dead(self.settings.webhook_max_attempts)
        if self.metrics is not None:
            self.metrics.attempts.labels(
                outcome="delivered" if delivered else "dead" if dead else "retried"
            ).inc()
            if disabled is not None:
                self.metrics.disabled.inc()
        if not delivered:
            logger.info(
                "webhook delivery %s, try %d: %s%s",
                delivery.id,
                delivery.attempts,
                error,
                " — DEAD" if dead else "",
            )
        if disabled is not None:
            logger.warning("webhook %s DISABLED: %s", disabled.id, disabled.disabled_reason)

    async def _release(self, deliveries: list[WebhookDelivery]) -> None:
        async with self.sessionmaker() as session, session.begin():
            await repository.release(session, deliveries)

    # --- owners of disabled endpoints ---

    async def notify_owners(self) -> int:
        """Mail the owners of endpoints disabled since the last round (one WEBHOOK_DISABLED notification per
        disabling); how many were written. Users unreachable: the next round tries again."""
        if time.monotonic() < self._notify_after:
            return 0
        try:
            async with self.sessionmaker() as session, session.begin():
                endpoints = await repository.claim_unnotified(session, NOTIFY_BATCH)
                if not endpoints:
                    return 0
                recipients = await self.directory.recipients(str(e.owner_id) for e in endpoints)
                rows = [
                    self._mail(endpoint, recipients.get(str(endpoint.owner_id))) for endpoint in endpoints
                ]
                await mail_repository.insert_notifications(session, rows)
                for endpoint in endpoints:
                    await repository.mark_notified(session, endpoint.id)
        except PeerError as exc:
            self._notify_after = time.monotonic() + NOTIFY_RETRY_SECONDS
            logger.warning("cannot mail the owners of disabled webhooks yet: %s", exc)
            return 0
        return len(rows)

    def _mail(self, endpoint: WebhookEndpoint, recipient: Any) -> dict[str, Any]:
        disabled_at = endpoint.disabled_at or datetime.now(UTC)
        mail = self.templates.render(
            NotificationKind.WEBHOOK_DISABLED,
            {
                "name": recipient.name if recipient is not None else "partner",
                "url": endpoint.url,
                "description": endpoint.description,
                "reason": endpoint.disabled_reason or "",
                "disabled_at": disabled_at.astimezone(UTC).strftime("%d %B %Y, %H:%M UTC"),
                "webhook_id": str(endpoint.id),
            },
        )
        known = recipient is not None
        return {
            "id": uuid.uuid4(),
            "user_id": endpoint.owner_id,
            "kind": NotificationKind.WEBHOOK_DISABLED.value,
            "channel": Channel.EMAIL.value,
            # One mail per disabling: the event is (endpoint, when it was disabled).
            "event_id": uuid.uuid5(
                uuid.NAMESPACE_URL, f"webhook-disabled:{endpoint.id}:{disabled_at.isoformat()}"
            ),
            "product_id": None,
            "recipient": recipient.email if known else None,
            "subject": mail.subject,
            "body": mail.text,
            "body_html": mail.html,
            "status": (NotificationStatus.PENDING if known else NotificationStatus.FAILED).value,
            "failure_reason": None if known else "The users service knows no such user.",
        }

    # --- the loop ---

    async def run(self) -> None:
        """Dispatch while there is work, else wait `webhook_poll_seconds`; ride out a database outage. Never
        returns; cancelled, it lets the POSTs in flight finish and gives the rest of its batch back."""
        settings = self.settings
        await run_batches(
            "webhook dispatcher",
            self._round,
            batch_size=settings.webhook_batch_size,
            poll_seconds=settings.webhook_poll_seconds,
            finish_seconds=settings.webhook_timeout_seconds + 5,
            stopping=self._stop_starting,
        )

    def _stop_starting(self) -> None:
        self._stopping = True

    async def prune(self) -> int:
        """Delete ended deliveries past `webhook_retention_hours` (at most every PRUNE_EVERY_SECONDS)."""
        if time.monotonic() < self._prune_after:
            return 0
        self._prune_after = time.monotonic() + PRUNE_EVERY_SECONDS
        async with self.sessionmaker() as session, session.begin():
            return await repository.prune(
                session, older_than_hours=self.settings.webhook_retention_hours, limit=PRUNE_BATCH
            )

    async def _round(self) -> int:
        await self.notify_owners()
        await self.prune()
        return await self.dispatch_due()
