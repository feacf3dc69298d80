"""Analytics is for admins: every field answers FORBIDDEN to customers, partners and services, and
UNAUTHENTICATED to anonymous callers; admins get answers; a bad window or limit is BAD_USER_INPUT."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from analytics_helpers import EVER, TOP, AnalyticsServer, Launcher, run_issuer

from shared.auth import TokenIssuer

PRODUCT = str(uuid.uuid4())
WINDOW = '(from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z")'
# Every field of the analytics API, each as an operation of its own.
OPERATIONS = {
    "salesSummary": f"query {{ salesSummary{WINDOW} {{ orders }} }}",
    "topProducts": f"query {{ topProducts{WINDOW} {{ unitsSold }} }}",
    "salesSeries": (
        'query { salesSeries(from: "2000-01-01T00:00:00Z", to: "2001-01-01T00:00:00Z", interval: MONTH) '
        "{ orders } }"
    ),
    "userActivity": f"query {{ userActivity{WINDOW} {{ logins }} }}",
    "voucherUsage": f"query {{ voucherUsage{WINDOW} {{ orders }} }}",
    "fulfillmentTimes": f"query {{ fulfillmentTimes{WINDOW} {{ shipmentsShipped }} }}",
    "Product.stats": (
        f'query {{ _entities(representations: [{{__typename: "Product", id: "{PRODUCT}"}}]) '
        "{ ... on Product { stats { views } } } }"
    ),
    "ProductVariant.stats": (
        f'query {{ _entities(representations: [{{__typename: "ProductVariant", id: "{PRODUCT}"}}]) '
        "{ ... on ProductVariant { stats { unitsSold } } } }"
    ),
    "analyticsDeadLetters": "query { analyticsDeadLetters { id } }",
    "replayAnalyticsDeadLetter": 'mutation { replayAnalyticsDeadLetter(id: "1-0") }',
    "replayAnalyticsDeadLetters": "mutation { replayAnalyticsDeadLetters }",
}


class Callers:
    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer

    def token(self, role: str) -> str:
        if role == "SERVICE":
            return self.issuer.issue_service_token("orders").token
        return self.issuer.issue(str(uuid.uuid4()), [role]).token


@pytest.fixture(scope="module")
async def server(stack: Any, redis: Any) -> AsyncIterator[tuple[AnalyticsServer, Callers]]:
    issuer = run_issuer(stack)
    async with httpx.AsyncClient(timeout=30) as http, AsyncExitStack() as exits:
        launcher = Launcher(exits, issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token, redis, http)
        yield await launcher.start(), Callers(issuer)


@pytest.mark.parametrize("role", ["CUSTOMER", "PARTNER", "SERVICE"])
@pytest.mark.parametrize("field", OPERATIONS)
async def test_non_admins_are_forbidden(
    server: tuple[AnalyticsServer, Callers], field: str, role: str
) -> None:
    analytics, callers = server

    body = await analytics.call(OPERATIONS[field], token=callers.token(role))

    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]


@pytest.mark.parametrize("field", OPERATIONS)
async def test_anonymous_callers_must_sign_in(server: tuple[AnalyticsServer, Callers], field: str) -> None:
    analytics, _ = server

    body = await analytics.call(OPERATIONS[field], token=None)

    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("field", [name for name in OPERATIONS if name != "replayAnalyticsDeadLetter"])
async def test_admins_are_answered(server: tuple[AnalyticsServer, Callers], field: str) -> None:
    analytics, _ = server

    body = await analytics.call(OPERATIONS[field], token=analytics.admin)

    assert "errors" not in body, body["errors"]


async def test_replaying_an_unknown_dead_letter_is_not_found(server: tuple[AnalyticsServer, Callers]) -> None:
    analytics, _ = server

    body = await analytics.call(OPERATIONS["replayAnalyticsDeadLetter"], token=analytics.admin)

    assert [error["extensions"]["code"] for error in body["errors"]] == ["NOT_FOUND"]


@pytest.mark.parametrize("field", ["salesSummary", "topProducts", "userActivity", "fulfillmentTimes"])
async def test_a_window_that_does_not_end_after_it_starts_is_bad_user_input(
    server: tuple[AnalyticsServer, Callers], field: str
) -> None:
    analytics, _ = server
    query = OPERATIONS[field].replace(WINDOW, '(from: "2026-01-02T00:00:00Z", to: "2026-01-02T00:00:00Z")')

    body = await analytics.call(query, token=analytics.admin)

    assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("limit", [0, 101, -5])
async def test_a_top_products_limit_outside_1_to_100_is_bad_user_input(
    server: tuple[AnalyticsServer, Callers], limit: int
) -> None:
    analytics, _ = server
    body = await analytics.call(TOP, {**EVER, "limit": limit}, token=analytics.admin)

    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]] == [
        ("BAD_USER_INPUT", "limit")
    ]
