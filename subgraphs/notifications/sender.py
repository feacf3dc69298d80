"""The sender worker: takes due PENDING notifications, sends each over SMTP, and records the outcome.

A batch is claimed in one short transaction (`FOR UPDATE SKIP LOCKED`, one more attempt, a lease), so senders
in several processes never hold the same notification; each mail is then sent on one reused SMTP connection
and marked in a transaction of its own, fenced by its attempt number (a sender whose lease ran out changes
nothing). A sender stops starting sends at half its lease and gives the rest back, and the lease outlasts a
send, so a live sender's mail is never taken over. A process killed between a mail's SMTP answer and its
SENT mark sends it again after the lease: delivery is at least once, with a stable Message-ID.

Outcomes: sent -> SENT with `sent_at`. A 5xx answer to the message (sender, recipient or data refused) is
permanent (RFC 5321): FAILED at once with the answer. Anything else (no connection, a timeout, a 4xx, a
refused login or TLS) is retried with backoff (`shared.backoff`) until `send_max_attempts`, then FAILED with
the reason.

A mail carrying a one-time token (`token_purpose`) has it put in here, unsealed just before the send (the
stored bodies hold `mail.TOKEN_MASK`); SENT or FAILED clears the sealed token. A token that has expired, or
that does not open (altered, or sealed for another purpose or under another secret), fails the mail at once
with the reason: no dead link and no mask is ever mailed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.backoff import Backoff
from shared.sealed import SealError, unseal
from subgraphs.notifications import repository
from subgraphs.notifications.batch_loop import run_batches
from subgraphs.notifications.mail import build_message, with_token
from subgraphs.notifications.metrics import NotificationsMetrics
from subgraphs.notifications.models import Notification
from subgraphs.notifications.settings import NotificationsSettings

logger = logging.getLogger("myshop.notifications.sender")

REASON_MAX_LENGTH = 500


@dataclass(frozen=True, slots=True)
class SendFailure:
    reason: str
    permanent: bool


def classify(exc: BaseException, timeout: float) -> SendFailure:
    """Why a send failed, and whether trying again can help."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        answers = exc.recipients
        permanent = bool(answers) and all(500 <= answer.code < 600 for answer in answers)
        reason = "; ".join(f"{answer.recipient}: {answer.code} {answer.message}" for answer in answers)
        return SendFailure(_clip(f"recipient refused: {reason}"), permanent)
    if isinstance(
        exc, aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError
    ):
        return SendFailure(_clip(f"{exc.code} {exc.message}"), 500 <= exc.code < 600)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # HELO, AUTH, STARTTLS: the server refuses us, not this mail; a fixed configuration sends it later.
        return SendFailure(_clip(f"{type(exc).__name__}: {exc.code} {exc.message}"), False)
    if isinstance(exc, TimeoutError):
        return SendFailure(f"no answer from the SMTP server within {timeout:g} s", False)
    return SendFailure(_clip(f"{type(exc).__name__}: {exc}"), False)


def bodies(notification: Notification, service_secret: str) -> tuple[str, str] | SendFailure:
    """The text and HTML to send: as stored, with its token put in when it carries one; or why it cannot be
    sent (for good: a token does not get better by waiting)."""
    if notification.token_purpose is None:
        return notification.body, notification.body_html
    expires = notification.token_expires_at
    if expires is not None and expires <= datetime.now(UTC):
        return SendFailure(f"its {notification.token_purpose} token expired at {expires.isoformat()}", True)
    if not notification.sealed_token:
        return SendFailure(f"its {notification.token_purpose} token is gone", True)
    purpose = notification.token_purpose
    try:
        token = unseal(service_secret, purpose, notification.sealed_token)
    except SealError:
        return SendFailure(f"its {purpose} token does not open (altered, or not sealed by us for it)", True)
    try:
        return with_token(notification.body, notification.body_html, token)
    except ValueError:  # never the value in the reason: it might be a token after all
        return SendFailure(f"its {purpose} token is not shaped like one of our tokens", True)


def _clip(reason: str) -> str:
    return reason if len(reason) <= REASON_MAX_LENGTH else reason[: REASON_MAX_LENGTH - 1] + "…"


class Mailbox:
    """The configured SMTP server, over one connection reused for a batch (opened on first use, dropped
    after any failure, so the next mail starts on a fresh one)."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self._smtp: aiosmtplib.SMTP | None = None

    async def send(self, message: EmailMessage) -> None:
        try:
            await asyncio.wait_for(self._send(message), self.settings.smtp_timeout_seconds)
        except BaseException:
            self.close()
            raise

    async def _send(self, message: EmailMessage) -> None:
        if self._smtp is None or not self._smtp.is_connected:
            settings = self.settings
            smtp = aiosmtplib.SMTP(
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                use_tls=settings.smtp_tls,
                start_tls=settings.smtp_starttls,
                timeout=settings.smtp_timeout_seconds,
            )
            await smtp.connect()
            self._smtp = smtp
        await self._smtp.send_message(message)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    async def quit(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await asyncio.wait_for(smtp.quit(), 2.0)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()


class MailSender:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: NotificationsSettings,
        metrics: NotificationsMetrics | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.metrics = metrics
        self._stopping = False

    async def send_due(self) -> int:
        """Claim up to a batch of due notifications and try each once; how many were claimed."""
        settings = self.settings
        async with self.sessionmaker() as session, session.begin():
            claimed = await repository.claim_due(
                session, limit=settings.send_batch_size, lease_seconds=settings.send_lease_seconds
            )
        if not claimed:
            return 0
        # Past half the lease, start no more sends: each may last the SMTP timeout, which the lease outlasts.
        stop_starting = time.monotonic() + settings.send_lease_seconds / 2
        mailbox = Mailbox(settings)
        try:
            for index, notification in enumerate(claimed):
                if self._stopping or time.monotonic() > stop_starting:
                    await self._release(claimed[index:])
                    break
                await self._deliver(mailbox, notification)
        finally:
            await mailbox.quit()
        return len(claimed)

    async def _deliver(self, mailbox: Mailbox, notification: Notification) -> None:
        if not notification.recipient:
            await self._failed(notification, SendFailure("no address to send to", permanent=True))
            return
        content = bodies(notification, self.settings.service_secret)
        if isinstance(content, SendFailure):
            await self._failed(notification, content)
            return
        text, html = content
        try:
            message = build_message(
                notification_id=notification.id,
                sender=self.settings.smtp_from,
                recipient=notification.recipient,
                subject=notification.subject,
                text=text,
                html=html,
            )
        except (ValueError, TypeError) as exc:  # an address or header no message can carry
            await self._failed(
                notification, SendFailure(_clip(f"not a valid message: {exc}"), permanent=True)
            )
            return
        try:
            await mailbox.send(message)
        except Exception as exc:  # whatever the SMTP conversation raised: this try failed, the next may not
            await self._failed(notification, classify(exc, self.settings.smtp_timeout_seconds))
            return
        async with self.sessionmaker() as session, session.begin():
            marked = await repository.mark_sent(session, notification.id, notification.attempts)
        if not marked:
            logger.warning("notification %s was sent after its lease ran out", notification.id)
        if self.metrics is not None:
            self.metrics.mails_sent.labels(self.metrics.service, notification.kind).inc()

    async def _failed(self, notification: Notification, failure: SendFailure) -> None:
        settings = self.settings
        final = failure.permanent or notification.attempts >= settings.send_max_attempts
        async with self.sessionmaker() as session, session.begin():
            if final:
                await repository.mark_failed(session, notification.id, notification.attempts, failure.reason)
            else:
                retries = Backoff(settings.send_retry_initial_seconds, settings.send_retry_max_seconds)
                delay = retries.delay(notification.attempts)
                await repository.mark_retry(
                    session,
                    notification.id,
                    notification.attempts,
                    delay_seconds=delay,
                    reason=failure.reason,
                )
        logger.warning(
            "notification %s (%s), try %d: %s%s",
            notification.id,
            notification.kind,
            notification.attempts,
            failure.reason,
            " — FAILED" if final else " — will retry",
        )
        if self.metrics is not None:
            counter = self.metrics.mails_failed if final else self.metrics.mails_retried
            counter.labels(self.metrics.service, notification.kind).inc()

    async def _release(self, notifications: list[Notification]) -> None:
        async with self.sessionmaker() as session, session.begin():
            await repository.release(session, [(row.id, row.attempts) for row in notifications])

    async def run(self) -> None:
        """Send while there is work, else wait `send_poll_seconds`; ride out a database outage. Never
        returns; cancelled, it lets the mail being sent finish and gives the rest of its batch back."""
        settings = self.settings
        await run_batches(
            "sender",
            self.send_due,
            batch_size=settings.send_batch_size,
            poll_seconds=settings.send_poll_seconds,
            finish_seconds=settings.smtp_timeout_seconds + 5,
            stopping=self._stop_starting,
        )

    def _stop_starting(self) -> None:
        self._stopping = True
