"""The users API as the tests use it: its operations, and accounts made through it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from myshop.demo.users import DEMO_PASSWORD, seed
from shared.sealed import unseal
from shared.settings import ServiceSettings
from subgraphs.users.models import outbox

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { email verificationRequired message }
}
"""
# The sign-in right after a registration (register itself signs nobody in): the new account in full.
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    accessToken refreshToken expiresAt user { id email name roles createdAt emailVerified }
  }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken expiresAt user { id email roles } }
}
"""
REFRESH = """
mutation Refresh($token: String!) {
  refreshToken(refreshToken: $token) { accessToken refreshToken expiresAt user { id roles } }
}
"""
LOGOUT = """
mutation Logout($token: String, $all: Boolean) { logout(refreshToken: $token, allSessions: $all) }
"""
ME = "{ me { id email name roles } }"
SET_ROLES = """
mutation SetRoles($userId: ID!, $roles: [Role!]!) {
  setUserRoles(userId: $userId, roles: $roles) { id roles }
}
"""
PASSWORD = "correct horse battery"
# Which payload key of which event carries a sealed token, and its seal purpose (account_events.py).
SEALED_TOKENS = {
    "UserRegistered": ("verificationToken", "email-verification"),
    "EmailVerificationRequested": ("token", "email-verification"),
    "PasswordResetRequested": ("token", "password-reset"),
    "EmailChangeRequested": ("token", "email-change"),
}


class Accounts:
    """Users of the running users server, signed in through its API."""

    def __init__(self, gql: Any, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.gql = gql
        self.sessions = sessions

    async def register(
        self,
        email: str,
        *,
        password: str = PASSWORD,
        name: str = "Test User",
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Register, then sign in (register answers no tokens): the login payload of the new account."""
        variables = {"input": {"email": email, "password": password, "name": name}}
        (await self.gql("users", REGISTER, variables, headers=headers)).ok()
        signed_in = {"email": email, "password": password}
        return (await self.gql("users", SIGN_IN, signed_in, headers=headers)).ok()["login"]

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        return (await self.gql("users", LOGIN, {"email": email, "password": password})).ok()["login"]

    async def seed_demo(self) -> dict[str, dict[str, Any]]:
        """The demo accounts (ADMIN, CUSTOMER, PARTNER), each signed in: {"admin": payload, ...}."""
        async with self.sessions.begin() as session:
            await seed(session)
        return {
            role: await self.login(f"{role}@myshop.dev", DEMO_PASSWORD)
            for role in ("admin", "customer", "partner")
        }

    async def events(self, event_type: str, *, email: str | None = None) -> list[dict[str, Any]]:
        """The payloads of the users outbox's `event_type` events (for `email`), oldest first."""
        table = outbox.table
        statement = select(table.c.payload).where(table.c.event_type == event_type).order_by(table.c.id)
        async with self.sessions() as session:
            payloads = list((await session.scalars(statement)).all())
        return [p for p in payloads if email is None or p.get("email", "").lower() == email.lower()]

    async def mailed_token(self, event_type: str, email: str) -> str:
        """The token of the newest `event_type` mailed to `email`, unsealed as notifications would."""
        payloads = await self.events(event_type, email=email)
        assert payloads, f"no {event_type} for {email}"
        key, purpose = SEALED_TOKENS[event_type]
        return unseal(ServiceSettings().service_secret, purpose, payloads[-1][key])
