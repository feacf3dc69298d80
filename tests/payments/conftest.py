"""Fixtures of the payments tests: tokens, sessions on the payments database, and a payments server of our own
whose sandbox hangs 1.5 s on `tok_timeout` (the stack's hangs the default 30 s)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from payments_api import HANG_SECONDS, Customer, PaymentsApi, start_payments
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth import TokenIssuer
from shared.testing import ServerThread


@pytest.fixture(scope="module")  # not the session: its pollers would run (and hold connections) to the end
def slow_server(stack: Any) -> Iterator[ServerThread]:
    server = start_payments(sandbox_hang_seconds=HANG_SECONDS)
    yield server
    server.stop()


@pytest.fixture
def api_for(gql: Any, http: httpx.AsyncClient, issuer: TokenIssuer) -> Callable[[ServerThread], PaymentsApi]:
    """A client of a payments server of the test's own."""

    def build(server: ServerThread) -> PaymentsApi:
        # The run's GraphQL client class, aimed at our server (it only asks its stack for the URL).
        client = type(gql)(http, SimpleNamespace(url=lambda _name: server.url))
        return PaymentsApi(client, http, server.url, issuer)

    return build


@pytest.fixture
def payments(gql: Any, http: httpx.AsyncClient, issuer: TokenIssuer, api: Any) -> PaymentsApi:
    """The stack's payments server, called with a SERVICE token (as the order saga calls it)."""
    return PaymentsApi(gql, http, api.url("payments"), issuer)


@pytest.fixture
def slow_payments(
    api: Any, api_for: Callable[[ServerThread], PaymentsApi], slow_server: ServerThread
) -> PaymentsApi:
    """Our own payments server (on the run's payments database), whose `tok_timeout` hangs HANG_SECONDS."""
    return api_for(slow_server)


@pytest.fixture
def customer(issuer: TokenIssuer) -> Customer:
    user_id = str(uuid.uuid4())
    return Customer(user_id, issuer.issue(user_id, ["CUSTOMER"]).token)


@pytest.fixture
def other_customer(issuer: TokenIssuer) -> Customer:
    user_id = str(uuid.uuid4())
    return Customer(user_id, issuer.issue(user_id, ["CUSTOMER"]).token)


@pytest.fixture
def token_of(issuer: TokenIssuer) -> Any:
    """`token_of("ADMIN")`: a token of a fresh user with that role."""
    return lambda role: issuer.issue(str(uuid.uuid4()), [role]).token


@pytest.fixture
def payments_db(api: Any, engines: dict[str, AsyncEngine]) -> async_sessionmaker[AsyncSession]:
    """Sessions on the run's payments database (emptied before the test by `api`)."""
    return async_sessionmaker(engines["payments"], expire_on_commit=False)
