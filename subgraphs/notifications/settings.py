"""Settings of the notifications service (`MYSHOP_NOTIFICATIONS_*`, plus the common `MYSHOP_*` ones)."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import ServiceSettings, service_config

# An absolute http(s) URL, no query or fragment (the mail appends `/<page>?token=...`), nothing to escape.
_LINK_BASE = re.compile(r"https?://[^\s/?#\"'<>\\]+(/[^\s?#\"'<>\\]*)?", re.IGNORECASE)


class NotificationsSettings(ServiceSettings):
    model_config = service_config("notifications")
    service_name: ClassVar[str] = "notifications"

    # --- peers (their GraphQL endpoints): recipients' addresses and names, product names ---
    users_url: str = "http://127.0.0.1:4001/graphql"
    products_url: str = "http://127.0.0.1:4002/graphql"
    peer_timeout_seconds: float = Field(5.0, gt=0)

    # --- SMTP (MYSHOP_NOTIFICATIONS_SMTP_*): the default is the local sink that `myshop up` starts ---
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(8025, ge=1, le=65535)
    # STARTTLS after connecting (port 587), or TLS from the first byte (port 465); not both.
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "MyShop <no-reply@myshop.local>"
    # One message, connection included: past it the send counts as a failed attempt.
    smtp_timeout_seconds: float = Field(15.0, gt=0)

    # --- the sender worker ---
    send_batch_size: int = Field(20, ge=1, le=1000)
    # How long the sender sleeps when nothing is due.
    send_poll_seconds: float = Field(0.5, gt=0, le=60)
    # A claimed notification is the claimer's for this long; a sender that died is replaced after it.
    send_lease_seconds: float = Field(120.0, gt=0)
    # Tries of one mail over SMTP before it is FAILED (a 5xx answer fails it at once: SMTP says permanent).
    send_max_attempts: int = Field(5, ge=1, le=100)
    # Backoff between tries: doubling from the first, capped.
    send_retry_initial_seconds: float = Field(5.0, gt=0)
    send_retry_max_seconds: float = Field(600.0, gt=0)

    # --- the account's mails: links to the frontend's pages, `<base>/verify-email?token=...` and so on ---
    account_link_base_url: str = "http://localhost:4000/account"
    # "Someone tried to sign up with your address" reaches an account at most once in this window.
    sign_up_attempt_cooldown_seconds: int = Field(3600, ge=0)

    # --- carts ---
    # A customer hears of an abandoned cart at most once in this window (orders tells each idle period once,
    # but a customer who keeps leaving their cart should not get a reminder for each).
    cart_reminder_cooldown_seconds: int = Field(86400, ge=0)

    # --- watches ---
    max_watches_per_user: int = Field(500, ge=1)
    # A product that flaps in and out of stock (a reservation taking the last unit, then released) mails a
    # watcher back in stock at most once in this window.
    back_in_stock_cooldown_seconds: int = Field(3600, ge=0)

    # --- webhooks (webhooks*.py) ---
    max_webhooks_per_owner: int = Field(10, ge=1, le=1000)
    # One POST, connection included; past it the try failed.
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=120)
    # Tries of one delivery before it is DEAD (a dead letter until replayed). With the backoff below (doubling
    # from 10 s up to 6 h, each wait drawn between half and all of that), 24 tries span about 2 to 3.5 days.
    webhook_max_attempts: int = Field(24, ge=1, le=10_000)
    webhook_retry_initial_seconds: float = Field(10.0, gt=0)
    webhook_retry_max_seconds: float = Field(21_600.0, gt=0)
    # An endpoint is DISABLED (and its owner mailed) after this many deliveries DEAD in a row, or when every
    # try has failed for this long.
    webhook_disable_after_dead: int = Field(10, ge=1)
    webhook_disable_after_failing_seconds: float = Field(259_200.0, gt=0)
    # After `rotateWebhookSecret` the previous secret signs too (a second `v1=`) for this long.
    webhook_secret_overlap_seconds: int = Field(86_400, ge=0)
    # A delivery waits this long after its event happened before its first try: an earlier event of the same
    # order from another producer's stream (a payment's, between two of the order's) that the consumer reads
    # a little later still goes out first. Order holds across producers for lags up to this.
    webhook_ordering_grace_seconds: float = Field(1.0, ge=0, le=60)
    # The dispatcher: deliveries claimed per round, POSTs in flight at once, its sleep when nothing is due,
    # and how long a claimed delivery is its own (a dispatcher that died is replaced after it).
    webhook_batch_size: int = Field(50, ge=1, le=1000)
    webhook_concurrency: int = Field(20, ge=1, le=500)
    webhook_poll_seconds: float = Field(0.5, gt=0, le=60)
    webhook_lease_seconds: float = Field(60.0, gt=0)
    # DELIVERED and DEAD deliveries (with their tries, and events no delivery needs any more) are deleted this
    # long after they ended; PENDING ones are kept however old.
    webhook_retention_hours: int = Field(168, ge=1)
    # Targets on private, loopback, link-local, multicast or reserved addresses: refused in production (at
    # registration and at every delivery), allowed elsewhere (the demo, tests). Set it to decide yourself.
    webhook_private_targets_allowed: bool | None = None

    @property
    def webhook_private_targets(self) -> bool:
        """Whether a webhook may target a non-public address (see `webhook_private_targets_allowed`)."""
        allowed = self.webhook_private_targets_allowed
        return not self.is_production if allowed is None else allowed

    @field_validator("account_link_base_url")
    @classmethod
    def _absolute_link_base(cls, value: str) -> str:
        # A link in a mail is opened from a mail reader: only an absolute http(s) URL leads anywhere.
        value = value.strip().rstrip("/")
        if not _LINK_BASE.fullmatch(value):
            raise ValueError("MYSHOP_NOTIFICATIONS_ACCOUNT_LINK_BASE_URL must be an absolute http(s) URL")
        return value

    @model_validator(mode="after")
    def _coherent_smtp(self) -> NotificationsSettings:
        if self.smtp_starttls and self.smtp_tls:
            raise ValueError("MYSHOP_NOTIFICATIONS_SMTP_STARTTLS and _SMTP_TLS exclude each other")
        # A sender stops starting sends at half its lease, and a send lasts at most the SMTP timeout: the
        # lease must outlast both, or a second sender could take over a mail being sent.
        if self.send_lease_seconds < 2 * self.smtp_timeout_seconds + 5:
            raise ValueError(
                "MYSHOP_NOTIFICATIONS_SEND_LEASE_SECONDS must be at least 2 x SMTP timeout + 5 s"
            )
        # The same for a webhook's POST under the dispatcher's lease.
        if self.webhook_lease_seconds < 2 * self.webhook_timeout_seconds + 5:
            raise ValueError(
                "MYSHOP_NOTIFICATIONS_WEBHOOK_LEASE_SECONDS must be at least 2 x webhook timeout + 5 s"
            )
        return self
