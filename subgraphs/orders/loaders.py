"""Per-request DataLoaders: orders by id, and their lines and status history, each batched into one query;
and the carts' (cart_pricing.py), made on a request's first cart read."""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from shared.ids import uuid_or_none
from subgraphs.orders import repository
from subgraphs.orders import returns_repository as returns_sql
from subgraphs.orders.cart_pricing import CartLoaders
from subgraphs.orders.models import Order, OrderItem, OrderStatusChange, Return, ReturnLine

if TYPE_CHECKING:
    from shared.context import Context


class OrderLoaders:
    def __init__(self, context: Context) -> None:
        self._context = context
        self.order: DataLoader[str, Order | None] = DataLoader(load_fn=self._load_orders)
        self.items: DataLoader[uuid.UUID, list[OrderItem]] = DataLoader(load_fn=self._load_items)
        self.history: DataLoader[uuid.UUID, list[OrderStatusChange]] = DataLoader(load_fn=self._load_history)

    async def _load_orders(self, keys: list[str]) -> list[Order | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = list({order_id for order_id in ids if order_id is not None})
        found = {order.id: order for order in await repository.get_many(self._context.session, wanted)}
        return [found.get(order_id) if order_id is not None else None for order_id in ids]

    async def _load_items(self, keys: list[uuid.UUID]) -> list[list[OrderItem]]:
        found = await repository.items_of(self._context.session, keys)
        return [found[key] for key in keys]

    async def _load_history(self, keys: list[uuid.UUID]) -> list[list[OrderStatusChange]]:
        found = await repository.history_of(self._context.session, keys)
        return [found[key] for key in keys]

    @cached_property
    def returns(self) -> ReturnLoaders:
        return ReturnLoaders(self._context)

    @cached_property
    def carts(self) -> CartLoaders:
        return CartLoaders(self._context, self._context.runtime.state.saga.peers)

    def remember(self, order: Order) -> None:
        self.order.prime(str(order.id), order, force=True)


class ReturnLoaders:
    """Returns by id, each order's returns, each return's lines: one batched query each (made on a request's
    first read of a return)."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self.by_id: DataLoader[str, Return | None] = DataLoader(load_fn=self._load_returns)
        self.of_order: DataLoader[uuid.UUID, list[Return]] = DataLoader(load_fn=self._load_of_orders)
        self.lines: DataLoader[uuid.UUID, list[ReturnLine]] = DataLoader(load_fn=self._load_lines)

    async def _load_returns(self, keys: list[str]) -> list[Return | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = list({return_id for return_id in ids if return_id is not None})
        found = {row.id: row for row in await returns_sql.get_many(self._context.session, wanted)}
        return [found.get(return_id) if return_id is not None else None for return_id in ids]

    async def _load_of_orders(self, keys: list[uuid.UUID]) -> list[list[Return]]:
        found = await returns_sql.returns_of_orders(self._context.session, keys)
        return [found[key] for key in keys]

    async def _load_lines(self, keys: list[uuid.UUID]) -> list[list[ReturnLine]]:
        found = await returns_sql.lines_of(self._context.session, keys)
        return [found[key] for key in keys]


def build_loaders(context: Context) -> OrderLoaders:
    return OrderLoaders(context)
