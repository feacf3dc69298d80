"""users' `UserDeleted` in analytics: the figures do not move (the facts keep a user id that names no one),
and the consumer's dead letters about that user lose their email and name."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from analytics_helpers import EVER, SALES, USERS, AnalyticsServer, event, order_event

from shared.subscriptions import dead_letter_stream


async def test_user_deleted_keeps_the_figures_and_scrubs_the_dead_letters(analytics: AnalyticsServer) -> None:
    # Given a user who registered and bought, and a UserRegistered of theirs that was dead-lettered
    user_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    email, name = f"gone-{uuid.uuid4().hex[:8]}@example.com", "Gone Gabriel"
    signed_up = {"userId": user_id, "email": email, "name": name, "at": datetime.now(UTC).isoformat()}
    await analytics.publish(
        event("users", "UserRegistered", signed_up),
        order_event(
            "OrderConfirmed", str(uuid.uuid4()), items=[(str(uuid.uuid4()), 2, 1500)], user_id=user_id
        ),
    )
    await analytics.caught_up("users", "orders")
    letters = dead_letter_stream(analytics.prefix, "analytics")
    for payload in (signed_up, {**signed_up, "userId": other, "email": "kept@example.com", "name": "Kept"}):
        fields = {
            **event("users", "UserRegistered", payload).to_fields(),
            "error": "KeyError: x",
            "attempts": "5",
        }
        await analytics.redis.xadd(letters, fields)  # type: ignore[arg-type]
    sales = (await analytics.query(SALES, EVER))["salesSummary"]
    users = (await analytics.query(USERS, EVER))["userActivity"]

    # When users says that user was deleted
    await analytics.publish(
        event("users", "UserDeleted", {"userId": user_id, "at": datetime.now(UTC).isoformat()})
    )
    await analytics.caught_up("users")

    # Then sales and registrations are what they were
    assert (await analytics.query(SALES, EVER))["salesSummary"] == sales
    assert sales["grossRevenue"] == [{"amount": 3000, "currency": "USD"}]
    assert (await analytics.query(USERS, EVER))["userActivity"] == users
    # and both dead letters are kept, the deleted user's without email and name
    entries = [str(fields) for _, fields in await analytics.redis.xrange(letters)]
    assert len(entries) == 2
    assert not any(email in entry or name in entry for entry in entries)
    assert any("kept@example.com" in entry for entry in entries)
