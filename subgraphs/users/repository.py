"""SQL for the users table, nothing else: no rules, no commits (the request owns the transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import any_, func, literal, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import EntityRecords, PreparedRead, any_of
from subgraphs.users.emails import skeleton
from subgraphs.users.models import User

# The read paths' users (the DataLoader of `me` and of every User reference): records, not entities
# (shared.db.EntityRecords), the statement kept compiled and run on the driver (shared.db.PreparedRead).
USERS = EntityRecords(User)
_BY_IDS = PreparedRead(USERS.select().where(any_of(User.id, "user_ids")))

# The unique indexes an address can collide on: itself (case-insensitive), or a look-alike (its skeleton).
ADDRESS_INDEXES = ("uq_users_lower_email", "uq_users_email_skeleton")


def address_taken(exc: IntegrityError) -> bool:
    """Whether an insert or update failed because the address (or a look-alike of it) has an account."""
    return any(index in str(exc.orig) for index in ADDRESS_INDEXES)


async def get(session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:
    statement = select(User).where(User.id == user_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def get_many(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> list[Any]:
    """Users by id, as records (read only: `USERS`)."""
    if not user_ids:
        return []
    return USERS.of(await _BY_IDS.rows(session, {"user_ids": list(user_ids)}))


async def get_by_email(session: AsyncSession, email: str, *, for_update: bool = False) -> User | None:
    # lower(email) on both sides: the unique index `uq_users_lower_email` serves this lookup.
    statement = select(User).where(func.lower(User.email) == func.lower(email))
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def account_with_address(session: AsyncSession, email: str) -> User | None:
    """The account that holds `email` (a canonical address) or a look-alike of it (same TR39 skeleton).

    Register and changeEmail treat either as "this address is taken". The address's own owner first, where a
    row from before the skeleton column shares the skeleton with another (the migration left it NULL).
    """
    same_address = func.lower(User.email) == func.lower(email)
    statement = (
        select(User)
        .where(or_(same_address, User.email_skeleton == skeleton(email)))
        .order_by(same_address.desc(), User.created_at)
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def account_for_login(
    session: AsyncSession, stored_key: str | None, login_key: str | None
) -> User | None:
    """The account a login names, row-locked: the address as typed first (an account made before look-alike
    characters were refused keeps signing in), then its NFKC form (a full-width admin@ is admin@)."""
    for key in dict.fromkeys(k for k in (stored_key, login_key) if k is not None):
        user = await get_by_email(session, key, for_update=True)
        if user is not None:
            return user
    return None


async def add(session: AsyncSession, *, email: str, name: str, password_hash: str, roles: list[str]) -> User:
    """Insert and flush, so a duplicate email raises IntegrityError here, inside the caller's try."""
    user = User(email=email, name=name, password_hash=password_hash, roles=roles)
    session.add(user)
    await session.flush()
    return user


async def set_password_hash(session: AsyncSession, user_id: uuid.UUID, password_hash: str) -> None:
    await session.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))


async def lock_admin_ids(session: AsyncSession) -> list[uuid.UUID]:
    """The ids of every ADMIN, row-locked until the transaction ends.

    Two admins demoting each other at once serialize here: the second sees the first's change and cannot
    remove the last ADMIN.
    """
    is_admin = literal("ADMIN") == any_(User.roles)
    statement = select(User.id).where(is_admin).order_by(User.id).with_for_update()
    return list((await session.scalars(statement)).all())


async def page(session: AsyncSession, *, after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[User]:
    """Users in (created_at, id) order, strictly after the keyset `after`."""
    statement = select(User).order_by(User.created_at, User.id).limit(limit)
    if after is not None:
        statement = statement.where(tuple_(User.created_at, User.id) > tuple_(*after))
    return list((await session.scalars(statement)).all())


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)
