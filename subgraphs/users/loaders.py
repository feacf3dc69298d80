"""Per-request DataLoaders: every `User` reference of one request is read with one query."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from subgraphs.users import address_repository, repository
from subgraphs.users.models import Address, User


class UserLoaders:
    def __init__(self, session: Callable[[], AsyncSession]) -> None:
        # A callable: the request's session is opened only if a loader actually runs.
        self._session = session
        self.user_by_id: DataLoader[uuid.UUID, User | None] = DataLoader(load_fn=self._load_users)
        self.addresses_by_user: DataLoader[uuid.UUID, list[Address]] = DataLoader(
            load_fn=self._load_addresses
        )

    async def _load_users(self, ids: Sequence[uuid.UUID]) -> list[User | None]:
        found = {user.id: user for user in await repository.get_many(self._session(), list(ids))}
        return [found.get(user_id) for user_id in ids]

    async def _load_addresses(self, user_ids: Sequence[uuid.UUID]) -> list[list[Address]]:
        found: dict[uuid.UUID, list[Address]] = {user_id: [] for user_id in user_ids}
        for address in await address_repository.for_users(self._session(), list(user_ids)):
            found[address.user_id].append(address)
        return [found[user_id] for user_id in user_ids]


def build_loaders(context: Any) -> UserLoaders:
    return UserLoaders(lambda: context.session)
