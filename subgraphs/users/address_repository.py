"""SQL for the addresses table, nothing else: no rules, no commits (the request owns the transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.users.models import Address

# The default flags, by the kind the service names.
DEFAULT_COLUMNS = {"shipping": Address.is_default_shipping, "billing": Address.is_default_billing}


async def for_users(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> list[Address]:
    """The addresses of `user_ids`, each user's oldest first."""
    if not user_ids:
        return []
    statement = (
        select(Address)
        .where(Address.user_id.in_(user_ids))
        .order_by(Address.user_id, Address.created_at, Address.id)
    )
    return list((await session.scalars(statement)).all())


async def get(session: AsyncSession, address_id: uuid.UUID) -> Address | None:
    return await session.get(Address, address_id)


async def count(session: AsyncSession, user_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(Address).where(Address.user_id == user_id)
    return int(await session.scalar(statement) or 0)


async def add(session: AsyncSession, user_id: uuid.UUID, fields: dict[str, Any]) -> Address:
    address = Address(user_id=user_id, is_default_shipping=False, is_default_billing=False, **fields)
    session.add(address)
    await session.flush()
    return address


async def clear_default(session: AsyncSession, user_id: uuid.UUID, kind: str) -> None:
    """No address of the user is the default of `kind` (flushed, so a new default may follow at once)."""
    column = DEFAULT_COLUMNS[kind]
    await session.execute(
        update(Address)
        .where(Address.user_id == user_id, column.is_(True))
        .values({column.key: False})
        .execution_options(synchronize_session="fetch")
    )


async def remove(session: AsyncSession, address_id: uuid.UUID) -> None:
    await session.execute(delete(Address).where(Address.id == address_id))
