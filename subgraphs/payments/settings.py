"""Settings of the payments service (`MYSHOP_PAYMENTS_*`, plus the common `MYSHOP_*` ones)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared.settings import ServiceSettings, service_config


class PaymentsSettings(ServiceSettings):
    model_config = service_config("payments")
    service_name: ClassVar[str] = "payments"

    # Which payment provider charges and refunds (MYSHOP_PAYMENTS_PROVIDER): only the sandbox is built in.
    provider: Literal["sandbox"] = "sandbox"
    # A provider call taking longer than this is a transient failure (PAYMENT_PROVIDER_UNAVAILABLE): the
    # request rolls back and the caller retries with the same key. Above the sandbox's hang, so `tok_timeout`
    # really approves late, as a slow real provider would.
    provider_timeout_seconds: float = Field(60.0, gt=0)
    # How long the sandbox's `tok_timeout` hangs before it approves (MYSHOP_PAYMENTS_SANDBOX_HANG_SECONDS).
    sandbox_hang_seconds: float = Field(30.0, ge=0)
    # How long the sandbox remembers its attempts per key (`tok_flaky`, `tok_refund_flaky`) in Redis.
    sandbox_attempts_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
