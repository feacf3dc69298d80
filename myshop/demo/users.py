"""Demo accounts for `myshop up` (idempotent): one per role, all with the password `myshop-demo`.

DEMO ONLY: the password is public (it is in this file and the README). Never seed a production database.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.users import repository
from subgraphs.users.passwords import Passwords
from subgraphs.users.settings import UsersSettings

DEMO_PASSWORD = "myshop-demo"
# (email, name, roles)
DEMO_ACCOUNTS: tuple[tuple[str, str, list[str]], ...] = (
    ("admin@myshop.dev", "Ada Admin", ["ADMIN"]),
    ("customer@myshop.dev", "Casey Customer", ["CUSTOMER"]),
    ("partner@myshop.dev", "Pat Partner", ["PARTNER"]),
)


async def seed(session: AsyncSession, settings: UsersSettings | None = None) -> list[str]:
    """Create the demo accounts that are missing (flushes; the caller commits); one line per account."""
    passwords = Passwords.from_settings(settings or UsersSettings())
    lines: list[str] = []
    for email, name, roles in DEMO_ACCOUNTS:
        existing = await repository.get_by_email(session, email)
        if existing is None:
            password_hash = await passwords.hash(DEMO_PASSWORD)
            user = await repository.add(
                session, email=email, name=name, password_hash=password_hash, roles=roles
            )
            # Demo addresses receive no mail: they count as verified, so the demo orders in any setting.
            user.email_verified_at = user.created_at
            state = "created"
        else:
            state = "exists"
        lines.append(f"{email} / {DEMO_PASSWORD} ({', '.join(roles)}) {state}")
    return lines
