"""Per-request DataLoaders: every payment read by id, and every order's payment, in one batched query
each (sibling fields resume together after `Context.principal`, so their loads stay one batch)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from shared.ids import uuid_or_none
from subgraphs.payments import repository
from subgraphs.payments.models import Payment, Refund

if TYPE_CHECKING:
    from shared.context import Context


class PaymentLoaders:
    """`payment`: payment id -> Payment; `payment_of_order`: order id -> its charge (keys are any string a
    client sent; one that cannot be an id loads None); `refunds_of_payment`: payment id -> its refunds."""

    def __init__(self, session: Callable[[], AsyncSession]) -> None:
        # A callable: the request's session is opened on first use, not for requests that never read.
        self._session = session
        self.payment: DataLoader[str, Payment | None] = DataLoader(load_fn=self._load_payments)
        self.payment_of_order: DataLoader[str, Payment | None] = DataLoader(load_fn=self._load_order_payments)
        self.refunds_of_payment: DataLoader[uuid.UUID, list[Refund]] = DataLoader(load_fn=self._load_refunds)

    async def _load_payments(self, keys: list[str]) -> list[Payment | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = list({payment_id for payment_id in ids if payment_id is not None})
        found = {payment.id: payment for payment in await repository.get_many(self._session(), wanted)}
        return [found.get(payment_id) if payment_id is not None else None for payment_id in ids]

    async def _load_order_payments(self, keys: list[str]) -> list[Payment | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = list({order_id for order_id in ids if order_id is not None})
        charges = await repository.charges_of_orders(self._session(), wanted)
        found = {payment.order_id: payment for payment in charges}
        return [found.get(order_id) if order_id is not None else None for order_id in ids]

    async def _load_refunds(self, keys: list[uuid.UUID]) -> list[list[Refund]]:
        found: dict[uuid.UUID, list[Refund]] = {key: [] for key in keys}
        for refund in await repository.refunds_of_payments(self._session(), list(found)):
            found[refund.payment_id].append(refund)
        return [found[key] for key in keys]


def build_loaders(context: Context) -> PaymentLoaders:
    return PaymentLoaders(lambda: context.session)
