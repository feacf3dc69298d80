"""The sender and the handlers on a database of their own (no stack): retries against an SMTP server that is
not there, two senders sharing the work without sending a mail twice, an event handled twice."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from mail_catcher import MailCatcher
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from myshop.testing import scratch_database
from shared.outbox import Event
from subgraphs.notifications.events import NotificationEvents
from subgraphs.notifications.mail import Templates
from subgraphs.notifications.models import Notification
from subgraphs.notifications.peers import Directory
from subgraphs.notifications.sender import MailSender
from subgraphs.notifications.settings import NotificationsSettings


@pytest.fixture(scope="module")
async def sessions() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with scratch_database("notifications", os.environ["MYSHOP_POSTGRES_URL"]) as url:
        engine = create_async_engine(url)
        yield async_sessionmaker(engine, expire_on_commit=False)
        await engine.dispose()


@pytest.fixture
async def db(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    async with sessions.begin() as session:
        await session.execute(text("TRUNCATE notifications, product_watches, processed_events"))
    return sessions


def settings(**overrides: Any) -> NotificationsSettings:
    values: dict[str, Any] = {
        "smtp_timeout_seconds": 2.0,
        "send_lease_seconds": 10.0,
        "send_max_attempts": 3,
        "send_retry_initial_seconds": 0.01,
        "send_retry_max_seconds": 0.05,
        "send_batch_size": 5,
        **overrides,
    }
    return NotificationsSettings(**values)


def registered(email: str, name: str = "Sam") -> Event:
    user_id = str(uuid.uuid4())
    return Event(
        id=uuid.uuid4(),
        type="UserRegistered",
        producer="users",
        version=1,
        occurred_at=datetime.now(UTC),
        payload={"userId": user_id, "email": email, "name": name, "at": datetime.now(UTC).isoformat()},
        aggregate_id=user_id,
    )


async def handle(db: async_sessionmaker[AsyncSession], event: Event) -> None:
    """The welcome handler, in a transaction of its own (as the consumer runs it)."""
    config = settings()
    events = NotificationEvents(config, Directory(config, None), Templates())
    async with db.begin() as session:
        await events.user_registered(session, event)


async def all_rows(db: async_sessionmaker[AsyncSession]) -> list[Notification]:
    async with db() as session:
        return list((await session.scalars(select(Notification).order_by(Notification.created_at))).all())


async def drain(sender: MailSender, db: async_sessionmaker[AsyncSession], within: float = 20.0) -> None:
    """Run the sender until no notification is PENDING."""
    deadline = asyncio.get_running_loop().time() + within
    while any(row.status == "PENDING" for row in await all_rows(db)):
        assert asyncio.get_running_loop().time() < deadline, "the sender did not finish"
        if not await sender.send_due():
            await asyncio.sleep(0.01)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_an_unreachable_smtp_server_is_retried_then_the_mail_fails_with_the_reason(
    db: async_sessionmaker[AsyncSession],
) -> None:
    # Given a welcome mail and an SMTP server that is not listening
    await handle(db, registered("nobody-home@example.com"))
    sender = MailSender(db, settings(smtp_port=closed_port()))

    # When the sender has tried all it may
    await drain(sender, db)

    # Then the mail is FAILED after 3 tries, saying why, its content kept
    [row] = await all_rows(db)
    assert (row.status, row.attempts, row.sent_at) == ("FAILED", 3, None)
    assert "SMTPConnect" in (row.failure_reason or "")
    assert row.subject == "Welcome to MyShop, Sam"


async def test_two_senders_share_the_work_and_send_each_mail_once(
    db: async_sessionmaker[AsyncSession], mail: MailCatcher
) -> None:
    # Given 30 welcome mails
    addresses = [f"pair-{index}-{uuid.uuid4().hex[:6]}@example.com" for index in range(30)]
    for address in addresses:
        await handle(db, registered(address))
    config = settings(smtp_port=mail.port)

    # When two senders work at once
    await asyncio.gather(drain(MailSender(db, config), db), drain(MailSender(db, config), db))

    # Then every mail went out exactly once, each on its first try
    assert [len(mail.to(address)) for address in addresses] == [1] * 30
    assert {(row.status, row.attempts) for row in await all_rows(db)} == {("SENT", 1)}


async def test_an_event_handled_twice_writes_one_mail(
    db: async_sessionmaker[AsyncSession],
) -> None:
    # Given a UserRegistered event handled once
    event = registered("twice@example.com")
    await handle(db, event)

    # When it is handled again (a consumer without its processed-events record)
    await handle(db, event)

    # Then there is one welcome mail
    assert len(await all_rows(db)) == 1
