"""Webhook secrets and signatures.

A secret (`whsec_` + 32 random bytes, URL-safe base64) is shown to its owner once, when created or rotated,
and stored sealed with the service secret (`shared.sealed`, purpose `webhook-secret`): a database dump alone
signs nothing. Each POST carries

    MyShop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=<...previous>]

(Stripe's scheme): the timestamp is signed with the body, so a receiver that refuses a timestamp outside its
tolerance (examples/webhook_verify.py: 300 s) cannot be replayed an old request; after a rotation the previous
secret signs a second `v1=` until it expires, so a receiver can switch secrets without losing a delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from shared.sealed import seal, unseal

SECRET_PURPOSE = "webhook-secret"
SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER = "MyShop-Signature"
WEBHOOK_ID_HEADER = "MyShop-Webhook-Id"
EVENT_ID_HEADER = "MyShop-Event-Id"
DELIVERY_ID_HEADER = "MyShop-Delivery-Id"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def seal_secret(service_secret: str, secret: str) -> str:
    return seal(service_secret, SECRET_PURPOSE, secret)


def open_secret(service_secret: str, sealed: str) -> str:
    return unseal(service_secret, SECRET_PURPOSE, sealed)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secrets_: Iterable[str], timestamp: int, body: bytes) -> str:
    """`t=<timestamp>,v1=<sig>` with one `v1=` per secret (the current one first)."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets_)])
