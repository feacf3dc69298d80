"""The documented verification snippet (examples/webhook_verify.py) against the service's signatures: a
signed body verifies, with either secret after a rotation; a tampered body, an old timestamp, another
secret or a header without a signature do not."""

from __future__ import annotations

import time

import pytest
from webhook_receiver import webhook_verify

from subgraphs.notifications.webhooks_signing import new_secret, signature_header

TOLERANCE_SECONDS = webhook_verify.TOLERANCE_SECONDS
WebhookVerificationError = webhook_verify.WebhookVerificationError
verify = webhook_verify.verify
BODY = (
    b'{"id":"6f1c","type":"OrderConfirmed","producer":"orders",'
    b'"occurredAt":"2026-12-06T12:00:00+00:00","data":{"orderId":"6f1c"}}'
)


def test_a_body_signed_now_verifies_with_its_secret() -> None:
    secret = new_secret()
    header = signature_header([secret], int(time.time()), BODY)

    verify(BODY, header, secret)


def test_a_tampered_body_fails_verification() -> None:
    secret = new_secret()
    header = signature_header([secret], int(time.time()), BODY)

    with pytest.raises(WebhookVerificationError):
        verify(BODY.replace(b"OrderConfirmed", b"OrderCancelled"), header, secret)


def test_a_timestamp_older_than_the_tolerance_fails_verification() -> None:
    secret = new_secret()
    signed_at = int(time.time()) - TOLERANCE_SECONDS - 1
    header = signature_header([secret], signed_at, BODY)

    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(BODY, header, secret)
    # The same header within the tolerance of when it was signed verifies: only the age failed it.
    verify(BODY, header, secret, now=signed_at + 10)


def test_a_forged_timestamp_on_a_real_signature_fails_verification() -> None:
    secret = new_secret()
    old = int(time.time()) - 3600
    header = signature_header([secret], old, BODY).replace(f"t={old}", f"t={int(time.time())}")

    with pytest.raises(WebhookVerificationError):
        verify(BODY, header, secret)


def test_after_a_rotation_either_secret_verifies_and_another_does_not() -> None:
    new, previous = new_secret(), new_secret()
    header = signature_header([new, previous], int(time.time()), BODY)

    assert header.count(",v1=") == 2
    verify(BODY, header, new)
    verify(BODY, header, previous)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, header, new_secret())


@pytest.mark.parametrize("header", ["", "t=123", "v1=abc", "t=abc,v1=abc"])
def test_a_header_without_a_timestamp_and_a_signature_fails_verification(header: str) -> None:
    with pytest.raises(WebhookVerificationError):
        verify(BODY, header, new_secret())
