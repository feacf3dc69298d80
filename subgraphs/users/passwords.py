"""Password hashing with argon2id, off the event loop, costing the same whether or not an account exists."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from subgraphs.users.settings import UsersSettings


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    # The stored hash was made with other parameters than today's: store a fresh one.
    needs_rehash: bool = False


class Passwords:
    """argon2id hashing. Each call runs in a worker thread: a 65 ms hash must not stall other requests."""

    def __init__(self, *, time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None

    @classmethod
    def from_settings(cls, settings: UsersSettings) -> Passwords:
        return cls(
            time_cost=settings.argon2_time_cost,
            memory_cost_kib=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        )

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> Verification:
        return await asyncio.to_thread(self._verify, password_hash, password)

    async def warm_up(self) -> None:
        """Make the dummy hash at start-up, so even the first unknown-email login costs what others do."""
        await self._dummy()

    async def verify_nothing(self, password: str) -> None:
        """Spend what a real verification costs: the response time must not tell that an email is unknown."""
        await self.verify(await self._dummy(), password)

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _verify(self, password_hash: str, password: str) -> Verification:
        try:
            self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):  # a mismatch is a VerificationError
            return Verification(ok=False)
        return Verification(ok=True, needs_rehash=self.hasher.check_needs_rehash(password_hash))
