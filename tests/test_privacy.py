"""shared.privacy: what of an event payload is personal, and who may read a user's export."""

from __future__ import annotations

import uuid

import pytest

from shared.auth import Principal
from shared.errors import BadUserInput, Forbidden
from shared.privacy import check_export_reader, concerns, redact


def test_redact_empties_contact_identity_and_free_text_at_any_depth_and_keeps_ids_and_money() -> None:
    payload = {
        "userId": "u1",
        "email": "a@example.com",
        "newEmail": "b@example.com",
        "name": "Ada",
        "search": "ada's gift",
        "total": 1200,
        "address": {"line1": "1 Main St", "postalCode": "62701", "country": "US"},
        "items": [{"productId": "p1", "quantity": 2, "recipientName": "Bob"}],
        "ip": "203.0.113.9",
        "userAgent": None,
    }

    cleaned = redact(payload)

    assert cleaned == {
        "userId": "u1",
        "email": "",
        "newEmail": "",
        "name": "",
        "search": "",
        "total": 1200,
        "address": None,
        "items": [{"productId": "p1", "quantity": 2, "recipientName": ""}],
        "ip": "",
        "userAgent": None,
    }
    assert redact(cleaned) == cleaned


def test_a_payload_concerns_the_user_it_names() -> None:
    assert concerns({"userId": "u1", "email": "x"}, "u1")
    assert not concerns({"userId": "u2"}, "u1")
    assert not concerns({"productId": "u1"}, "u1")


def _principal(subject: str, *roles: str) -> Principal:
    return Principal(subject=subject, roles=frozenset(roles), token_id="t", issued_at=0.0, expires_at=0.0)


def test_only_the_user_a_service_or_an_admin_reads_an_export() -> None:
    me, other = str(uuid.uuid4()), str(uuid.uuid4())

    assert check_export_reader(_principal(me, "CUSTOMER"), me) == uuid.UUID(me)
    assert check_export_reader(_principal("orders", "SERVICE"), other) == uuid.UUID(other)
    with pytest.raises(Forbidden):
        check_export_reader(_principal(me, "CUSTOMER"), other)
    with pytest.raises(BadUserInput):
        check_export_reader(_principal(me, "ADMIN"), "not-an-id")
