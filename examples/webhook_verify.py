"""Verify a MyShop webhook before trusting it: standard library only, copy it into your receiver.

MyShop signs every POST with the endpoint's secret (shown once by `createWebhook` / `rotateWebhookSecret`):

    MyShop-Signature: t=1765000000,v1=5257a8...,v1=9c1f0e...

`t` is when it was signed (unix seconds); each `v1` is the hex HMAC-SHA256 of "<t>.<raw body>" under a
secret (two of them for 24 h after a rotation: the new and the previous one). Verify against the RAW body
bytes, before parsing the JSON: a re-serialized body does not match.

    from webhook_verify import verify, WebhookVerificationError

    try:
        verify(request_body, request.headers["MyShop-Signature"], secret)
    except WebhookVerificationError:
        return 400
    event = json.loads(request_body)  # {id, type, producer, occurredAt, data}; dedupe by `id`

Deliveries are at least once: dedupe by the event id (`MyShop-Event-Id`, the body's `id`).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300


class WebhookVerificationError(ValueError):
    """The request is not a MyShop webhook signed with this secret within the tolerance."""


def verify(
    body: bytes,
    header: str,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise `WebhookVerificationError` unless `header` signs `body` with `secret`, at a time within
    `tolerance` seconds of `now` (the clock, by default)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookVerificationError("no timestamp or no v1 signature in the header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("timestamp outside the tolerance (a replayed or delayed request)")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    # Constant-time comparison against every v1 (any one may match: secrets rotate).
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookVerificationError("no signature matches")
