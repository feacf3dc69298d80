"""The caller of one request, verified once for every field that asks at the same time.

Sibling fields (an order's payment, for each order of a page) ask for the caller together, then each asks
its DataLoader for a row. Behind a lock they would resume one per event-loop turn, each turn's loads a batch
of their own (7 queries for a page of 20 orders); awaiting one shared future, they all resume in the same
turn, and their loads make one batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from shared.auth.principal import Principal
from shared.errors import Unauthenticated


class RequestCaller:
    """`verify`: the request's own verification (`Context.principal`), run once, on the first ask."""

    def __init__(self, verify: Callable[[], Awaitable[Principal | None]]) -> None:
        self._verify = verify
        self._answer: asyncio.Future[Principal | None] | None = None

    async def principal(self) -> Principal | None:
        """The verified caller, None when anonymous; a bad token raises UNAUTHENTICATED (for every asker)."""
        if self._answer is None:
            self._answer = asyncio.ensure_future(self._verify())
        # Shielded: one asker cancelled (its field abandoned) must not cancel the answer the others await.
        # Once the answer is there, awaiting it does not yield.
        return await asyncio.shield(self._answer)

    async def require(self) -> Principal:
        principal = await self.principal()
        if principal is None:
            raise Unauthenticated("Sign in first: this needs an access token.")
        return principal
