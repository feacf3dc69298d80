"""Fixtures of the notifications tests: a real SMTP server the stack's notifications service sends to, and a
small shop to make events with (users, products, inventory and orders over HTTP).

The SMTP server starts when this module is imported, before the stack does, so the stack's notifications
server is configured (through the environment) to send to it, and to retry quickly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from mail_catcher import MailCatcher
from notifications_shop import Shop

MAIL = MailCatcher().start()

for _name, _value in {
    "MYSHOP_NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
    "MYSHOP_NOTIFICATIONS_SMTP_PORT": str(MAIL.port),
    "MYSHOP_NOTIFICATIONS_SMTP_TIMEOUT_SECONDS": "5",
    "MYSHOP_NOTIFICATIONS_SEND_LEASE_SECONDS": "15",
    "MYSHOP_NOTIFICATIONS_SEND_POLL_SECONDS": "0.05",
    "MYSHOP_NOTIFICATIONS_SEND_MAX_ATTEMPTS": "3",
    "MYSHOP_NOTIFICATIONS_SEND_RETRY_INITIAL_SECONDS": "0.05",
    "MYSHOP_NOTIFICATIONS_SEND_RETRY_MAX_SECONDS": "0.2",
}.items():
    os.environ[_name] = _value


@pytest.fixture(scope="session")
def mail() -> Iterator[MailCatcher]:
    yield MAIL
    MAIL.stop()


@pytest.fixture
def shop(gql: Any, issuer: Any, engines: dict[str, Any], redis: Any, mail: MailCatcher) -> Shop:
    return Shop(gql, issuer, engines, redis, mail)
