"""Payment providers: the interface the service charges and refunds through, and the built-in sandbox.

The sandbox decides each outcome from the payment method token, so every failure the order saga must survive
can be produced on demand:

| token              | charge                                                      | refund                 |
|--------------------|-------------------------------------------------------------|------------------------|
| `tok_approve`      | approved                                                    | refunded               |
| `tok_decline`      | declined, reason `card_declined`                            | nothing to refund      |
| `tok_timeout`      | hangs `MYSHOP_PAYMENTS_SANDBOX_HANG_SECONDS`, then approved | refunded               |
| `tok_flaky`        | the first attempt of a key fails transiently, then approved | refunded               |
| `tok_refund_flaky` | approved                                                    | first attempt fails    |

A partial refund (`refund_partially`, a return's refund) behaves as the refund of its charge's token, its
attempts counted per refund key.
| anything else      | declined, reason `unknown_payment_method`                   | nothing to refund      |

Attempts are counted in Redis (`<redis_prefix>payments:sandbox:...`, with a TTL), not in the database: a
request that fails transiently rolls its database work back, and the next attempt must still know it is the
second.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from shared.redis_client import REDIS_UNAVAILABLE
from subgraphs.payments.settings import PaymentsSettings


class ProviderUnavailable(Exception):
    """A transient failure: nothing happened at the provider, the same call may be retried."""


@dataclass(frozen=True, slots=True)
class ChargeResult:
    approved: bool
    reference: str | None  # the provider's id of the charge; set when approved
    decline_reason: str | None  # set when declined


@dataclass(frozen=True, slots=True)
class RefundResult:
    reference: str


class PaymentProvider(Protocol):
    """What a payment provider does for us. `key` is our idempotency key: a provider that supports them gets
    it, so a charge retried after a lost answer is not taken twice."""

    async def charge(self, *, key: str, amount: int, currency: str, method: str) -> ChargeResult: ...

    async def refund(self, *, key: str, reference: str, amount: int, currency: str) -> RefundResult: ...

    async def refund_partially(
        self, *, key: str, reference: str, amount: int, currency: str
    ) -> RefundResult: ...


APPROVE = "tok_approve"
DECLINE = "tok_decline"
TIMEOUT = "tok_timeout"
FLAKY = "tok_flaky"
REFUND_FLAKY = "tok_refund_flaky"
SANDBOX_TOKENS = (APPROVE, DECLINE, TIMEOUT, FLAKY, REFUND_FLAKY)

# The sandbox's charge references; a refund only gets the reference back, so it carries the refund behaviour.
_CHARGE_PREFIX = "sbx_ch_"
_REFUND_FLAKY_PREFIX = "sbx_ch_rf_"


class SandboxProvider:
    def __init__(
        self, redis: Redis, redis_prefix: str, *, hang_seconds: float, attempts_ttl_seconds: int
    ) -> None:
        self.redis = redis
        self.prefix = f"{redis_prefix}payments:sandbox:"
        self.hang_seconds = hang_seconds
        self.ttl = attempts_ttl_seconds

    async def charge(self, *, key: str, amount: int, currency: str, method: str) -> ChargeResult:
        attempt = await self._attempt("charge", key)
        if method == APPROVE:
            return _approved()
        if method == DECLINE:
            return ChargeResult(approved=False, reference=None, decline_reason="card_declined")
        if method == TIMEOUT:
            # The worst case: the money is taken after the caller stopped waiting.
            await asyncio.sleep(self.hang_seconds)
            return _approved()
        if method == FLAKY:
            if attempt == 1:
                raise ProviderUnavailable("sandbox: transient failure (tok_flaky, first attempt)")
            return _approved()
        if method == REFUND_FLAKY:
            return _approved(_REFUND_FLAKY_PREFIX)
        return ChargeResult(approved=False, reference=None, decline_reason="unknown_payment_method")

    async def refund(self, *, key: str, reference: str, amount: int, currency: str) -> RefundResult:
        attempt = await self._attempt("refund", key)
        if reference.startswith(_REFUND_FLAKY_PREFIX) and attempt == 1:
            raise ProviderUnavailable("sandbox: transient refund failure (tok_refund_flaky, first attempt)")
        return RefundResult(reference=f"sbx_re_{uuid.uuid4().hex}")

    async def refund_partially(self, *, key: str, reference: str, amount: int, currency: str) -> RefundResult:
        attempt = await self._attempt("refund_partially", key)
        if reference.startswith(_REFUND_FLAKY_PREFIX) and attempt == 1:
            raise ProviderUnavailable(
                "sandbox: transient partial refund failure (tok_refund_flaky, first attempt)"
            )
        return RefundResult(reference=f"sbx_pr_{uuid.uuid4().hex}")

    async def _attempt(self, operation: str, key: str) -> int:
        """This attempt's number (1 for the first) of `operation` for `key`."""
        name = f"{self.prefix}{operation}:{key}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, self.ttl)
                count, _ = await pipe.execute()
        except REDIS_UNAVAILABLE as exc:
            # The sandbox cannot tell a first attempt from a retry: a transient failure, like a real outage.
            raise ProviderUnavailable(f"sandbox: attempt store unreachable ({type(exc).__name__})") from exc
        return int(count)


def _approved(prefix: str = _CHARGE_PREFIX) -> ChargeResult:
    return ChargeResult(approved=True, reference=f"{prefix}{uuid.uuid4().hex}", decline_reason=None)


def build_provider(settings: PaymentsSettings, redis: Redis) -> PaymentProvider:
    if settings.provider == "sandbox":
        return SandboxProvider(
            redis,
            settings.redis_prefix,
            hang_seconds=settings.sandbox_hang_seconds,
            attempts_ttl_seconds=settings.sandbox_attempts_ttl_seconds,
        )
    raise ValueError(f"unknown payment provider {settings.provider!r}")
