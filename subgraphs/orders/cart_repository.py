"""SQL for the carts and cart_lines tables, nothing else: no rules, no commits (the request owns the
transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.orders.models import Cart, CartLine, CartStatus


async def get(session: AsyncSession, cart_id: uuid.UUID, *, for_update: bool = False) -> Cart | None:
    statement = select(Cart).where(Cart.id == cart_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).first()


async def get_many(session: AsyncSession, cart_ids: Sequence[uuid.UUID]) -> list[Cart]:
    if not cart_ids:
        return []
    return list((await session.scalars(select(Cart).where(Cart.id.in_(cart_ids)))).all())


async def active_of_token(session: AsyncSession, token_hash: str, *, for_update: bool = False) -> Cart | None:
    statement = select(Cart).where(Cart.token_hash == token_hash, Cart.status == CartStatus.ACTIVE.value)
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).first()


async def active_of_user(session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False) -> Cart:
    """The user's ACTIVE cart, made on first use. Two first uses at once (two devices) insert one row: the
    partial unique index turns the second insert into nothing and both read the same cart."""
    await session.execute(
        insert(Cart)
        .values(id=uuid.uuid4(), user_id=user_id, status=CartStatus.ACTIVE.value)
        .on_conflict_do_nothing(
            index_elements=[Cart.user_id],
            # The partial index's own predicate, literally: PostgreSQL matches it as written.
            index_where=text("status = 'ACTIVE' AND user_id IS NOT NULL"),
        )
    )
    statement = select(Cart).where(Cart.user_id == user_id, Cart.status == CartStatus.ACTIVE.value)
    if for_update:
        statement = statement.with_for_update()
    # populate_existing: the row may be in the identity map from before a change by the statement above.
    return (await session.scalars(statement.execution_options(populate_existing=True))).one()


async def add_guest(session: AsyncSession, token_hash: str) -> Cart:
    cart = Cart(token_hash=token_hash, status=CartStatus.ACTIVE.value)
    session.add(cart)
    await session.flush()
    await session.refresh(cart)
    return cart


async def lines_of(session: AsyncSession, cart_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[CartLine]]:
    """Each cart's lines, oldest first."""
    found: dict[uuid.UUID, list[CartLine]] = {cart_id: [] for cart_id in cart_ids}
    if not cart_ids:
        return found
    statement = (
        select(CartLine).where(CartLine.cart_id.in_(cart_ids)).order_by(CartLine.added_at, CartLine.id)
    )
    for line in (await session.scalars(statement)).all():
        found[line.cart_id].append(line)
    return found


async def count_lines(session: AsyncSession, cart_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(CartLine).where(CartLine.cart_id == cart_id)
    return int(await session.scalar(statement) or 0)


async def line(session: AsyncSession, line_id: uuid.UUID) -> CartLine | None:
    return await session.get(CartLine, line_id)


async def line_of_variant(
    session: AsyncSession, cart_id: uuid.UUID, variant_id: uuid.UUID
) -> CartLine | None:
    statement = select(CartLine).where(CartLine.cart_id == cart_id, CartLine.variant_id == variant_id)
    return (await session.scalars(statement)).first()


async def add_line(
    session: AsyncSession,
    cart_id: uuid.UUID,
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    quantity: int,
    unit_amount: int,
    currency: str,
) -> CartLine:
    line = CartLine(
        cart_id=cart_id,
        product_id=product_id,
        variant_id=variant_id,
        quantity=quantity,
        seen_unit_price_amount=unit_amount,
        seen_currency=currency,
        # The clock, not the transaction's now(): lines added by one operation keep the order they came in.
        added_at=datetime.now(UTC),
    )
    session.add(line)
    await session.flush()
    await session.refresh(line)
    return line


async def remove_line(session: AsyncSession, line_id: uuid.UUID) -> None:
    await session.execute(delete(CartLine).where(CartLine.id == line_id))


# --- checkout (checkout.py, saga.py) ---


async def end_checkout(session: AsyncSession, order_id: uuid.UUID, *, completed: bool) -> None:
    """The cart whose checkout is `order_id`: COMPLETED (its order is confirmed), or unlocked again (the order
    failed: the customer may fix the cart and check out again). Nothing when no cart waits on it."""
    values: dict[str, object] = (
        {"status": CartStatus.COMPLETED.value, "token_hash": None}
        if completed
        else {"checkout_order_id": None}
    )
    await session.execute(
        update(Cart)
        .where(Cart.checkout_order_id == order_id, Cart.status == CartStatus.ACTIVE.value)
        .values(**values, updated_at=func.now())
    )
