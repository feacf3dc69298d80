"""The orders domain: place an order (then its saga runs), cancel one, read them. Rules here, SQL in
repository.py, the saga's steps in saga.py.

Reads run in the request's transaction. Placing and cancelling are the exception to "the request owns the
transaction": the order must be committed before its saga calls another service, and the saga persists each
step in a transaction of its own, so these two write through the saga's sessions, never `context.session`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.auth import Principal, Role
from shared.context import Context
from shared.errors import BadUserInput, Conflict, Forbidden, MyShopError, NotFound
from shared.ids import clean_key, parse_uuid, uuid_or_none
from shared.pagination import (
    newest_first_cursor,
    newest_first_position,
    page_size,
)
from shared.peers import PeerError
from subgraphs.orders import pricing, repository
from subgraphs.orders.events import OrderEvent
from subgraphs.orders.fulfillment import OrderShipped
from subgraphs.orders.models import (
    Order,
    OrderItem,
    OrderStatus,
    OrderStatusChange,
    SagaState,
    outbox,
)
from subgraphs.orders.order_input import (
    MAX_QUANTITY,
    OrderLine,
    clean_lines,
    clean_payment_method,
    request_hash,
    sold_item,
)
from subgraphs.orders.order_price import frozen_line, frozen_price, order_summary, variant_columns
from subgraphs.orders.saga import RESERVE, STARTED, CreatedOrder, Saga
from subgraphs.orders.settings import OrdersSettings
from subgraphs.orders.state import OrdersState

# Money is a GraphQL Int (32-bit signed) in the public schema: an order's total must fit in it.
MAX_TOTAL = 2**31 - 1
# The longest idempotency key a customer may send (the `orders.idempotency_key` column).
IDEMPOTENCY_KEY_MAX_LENGTH = 100
# Who reads any order: staff, partners fulfilling orders, and services.
STAFF = (Role.ADMIN, Role.PARTNER, Role.SERVICE)


class OrderNotPlaced(MyShopError):
    """The order exists but ended CANCELLED or FAILED; the code says why (OUT_OF_STOCK, PAYMENT_DECLINED)."""

    def __init__(self, order: Order) -> None:
        super().__init__(
            order.failure_reason or f"The order ended {order.status}.",
            orderId=str(order.id),
            status=order.status,
        )
        self.code = order.failure_code or "ORDER_FAILED"  # type: ignore[misc]


class ServiceUnavailable(MyShopError):
    code = "SERVICE_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[Order]
    size: int
    has_previous: bool
    kind: str
    # The page's orders' lines by order id, when asked to read them with the page; None otherwise.
    lines: dict[uuid.UUID, list[OrderItem]] | None = None

    def cursor_of(self, order: Order) -> str:
        return newest_first_cursor(self.kind, order.created_at, order.id)


class OrderService:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.state: OrdersState = context.runtime.state
        self.saga: Saga = self.state.saga
        settings = context.settings
        assert isinstance(settings, OrdersSettings)
        self.settings = settings
        # The lines of the order this request inserted, by order id (`insert_pending`), for its saga.
        self._created: dict[uuid.UUID, list[OrderItem]] = {}

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    # --- placing ---

    async def place_order(
        self, *, items: list[tuple[object, object]], payment_method: object, idempotency_key: object
    ) -> Order:
        """Create the order (PENDING) and run its saga; the CONFIRMED order, or an error saying why not.

        The same key from the same user answers with the same order, never a second one.
        """
        user_id = await self.buyer()
        key = clean_key(idempotency_key, field="idempotencyKey", max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
        lines = clean_lines(items)
        method = clean_payment_method(payment_method)
        fingerprint = request_hash(lines, method)
        return await self.once(
            user_id, key, fingerprint, lambda: self._create(user_id, key, fingerprint, lines, method)
        )

    async def buyer(self) -> uuid.UUID:
        """The signed-in user placing an order (placeOrder, checkoutComplete): a service cannot, and where the
        setting asks for it (`placeOrder` in production) the user's email must be verified."""
        principal = await self.context.require_principal()
        if principal.user_id is None:
            raise Forbidden("Orders are placed by users.")
        if not principal.email_verified and self.settings.requires_verified_email("placeOrder"):
            raise Forbidden(
                "Confirm your email address before placing an order.", reason="EMAIL_NOT_VERIFIED"
            )
        return parse_uuid(principal.user_id, "user")

    async def once(
        self,
        user_id: uuid.UUID,
        key: str,
        fingerprint: str,
        create: Callable[[], Awaitable[Order | None]],
    ) -> Order:
        """The order of (user, idempotency key), waited for: made by `create` (None: a concurrent request
        with this key made it first) with its saga started, or the one made before; CONFLICT when that one
        answered another request (`fingerprint`)."""
        async with self.saga.statement() as connection:
            existing = await repository.get_by_key(connection, user_id, key)
        order: Order | None = None
        created: CreatedOrder | None = None
        if existing is None:
            order = await create()
            if order is not None:
                created = CreatedOrder(order, self._created.pop(order.id))
                self.saga.start_created(created)
            else:
                async with self.saga.statement() as connection:
                    existing = await repository.get_by_key(connection, user_id, key)
        if existing is not None:
            if existing.request_hash != fingerprint:
                raise Conflict(
                    "This idempotency key was used for another order.",
                    field="idempotencyKey",
                    reason="IDEMPOTENCY_KEY_REUSED",
                )
            order = existing
        assert order is not None
        await self.saga.wait(order.id, self.settings.place_order_wait_seconds, created)
        return await self.outcome(order.id, created.confirmed if created is not None else None)

    async def _create(
        self, user_id: uuid.UUID, key: str, fingerprint: str, lines: list[OrderLine], method: str
    ) -> Order | None:
        try:
            catalog = await self.saga.peers.catalog([line.ref for line in lines])
        except PeerError as exc:
            raise ServiceUnavailable("The catalog cannot be reached; try again.") from exc
        priced: list[dict[str, Any]] = []
        currencies: set[str] = set()
        by_variant: dict[str, dict[str, Any]] = {}
        for line in lines:
            variant = sold_item(catalog.resolve(line.ref), line.field)
            currencies.add(variant.currency)
            same = by_variant.get(variant.id)
            if same is not None:
                # Two references of one variant (its product's id, and its own): one line.
                same["quantity"] += line.quantity
                if same["quantity"] > MAX_QUANTITY:
                    raise BadUserInput(f"A quantity is 1 to {MAX_QUANTITY}.", field=line.field)
                continue
            item = {
                "line": len(priced) + 1,
                "product_name": variant.name,
                "quantity": line.quantity,
                "unit_price_amount": variant.price_amount,
                "currency": variant.currency,
                **variant_columns(variant),
            }
            by_variant[variant.id] = item
            priced.append(item)
        if len(currencies) > 1:
            raise BadUserInput(
                "An order is paid in one currency; these products are in several.", field="items"
            )
        currency = currencies.pop()
        # A direct purchase, priced by the cart's code: no address (no tax), no shipping, no promotion.
        breakdown = pricing.price(
            [
                pricing.PricedLine(
                    line_id=str(item["line"]),
                    product_id=str(item["product_id"]),
                    variant_id=str(item["variant_id"]),
                    category=None,
                    tax_class=pricing.STANDARD,
                    unit_amount=item["unit_price_amount"],
                    quantity=item["quantity"],
                )
                for item in priced
            ],
            currency=currency,
            country=None,
            shipping_amount=0,
            rates={},
            prices_include_tax=self.settings.prices_include_tax,
        )
        if breakdown.total > MAX_TOTAL:
            raise BadUserInput(f"An order's total is at most {MAX_TOTAL} minor units.", field="items")
        for item, line in zip(priced, breakdown.lines, strict=True):
            item.update(frozen_line(line))
        values = {
            "user_id": user_id,
            "idempotency_key": key,
            "request_hash": fingerprint,
            "status": OrderStatus.PENDING,
            "currency": currency,
            "payment_method": method,
            **frozen_price(breakdown),
        }
        # One statement (`insert_pending`), atomic alone: outside a transaction.
        async with self.saga.statement() as connection:
            order = await self.insert_pending(connection, values, priced)
        return order

    async def insert_pending(
        self, session: AsyncSession | AsyncConnection, values: dict[str, Any], items: list[dict[str, Any]]
    ) -> Order | None:
        """Insert the PENDING order with its lines, history, first saga step and OrderPlaced, in one statement
        in `session` (in its transaction, if any); None when the user already has an order with this key."""
        values = {
            **values,
            "saga_state": SagaState.RUNNING,
            "lease_owner": self.saga.owner,
            "lease_until": _lease_until(self.settings.saga_lease_seconds),
        }
        # The order and its lines as they will be inserted: OrderPlaced is made from them, and the saga this
        # request starts once committed (`once`) needs not read them back.
        draft = Order(id=uuid.uuid4(), **values)
        frozen = sorted(
            (OrderItem(order_id=draft.id, **{"variant_id": item["product_id"], **item}) for item in items),
            key=lambda item: item.line,
        )
        placed = outbox.event(
            OrderEvent.ORDER_PLACED,
            {"orderId": draft.id, "userId": draft.user_id, **order_summary(draft, frozen)},
            aggregate_id=draft.id,
        )
        # The saga's first step is recorded STARTED before inventory is called (this commit comes first).
        order = await repository.insert_placed(session, draft, values, frozen, (RESERVE, STARTED), [placed])
        if order is not None:
            self._created[order.id] = frozen
        return order

    async def outcome(self, order_id: uuid.UUID, confirmed: Order | None = None) -> Order:
        """The order its saga `confirmed` in this process (as its last transaction returned it), else as
        stored now; OrderNotPlaced when it ended CANCELLED or FAILED."""
        order = confirmed
        if order is None:
            async with self.saga.one_statement() as session:
                order = await repository.get(session, order_id)
        assert order is not None
        self.context.loaders.remember(order)
        if order.status in (OrderStatus.CANCELLED, OrderStatus.FAILED) and order.saga_state == SagaState.DONE:
            raise OrderNotPlaced(order)
        return order

    # --- cancelling ---

    async def cancel_order(self, raw_id: object) -> Order:
        """The owner or an admin cancels a confirmed order: refund, restock, CANCELLED. Not once it has
        shipped (ORDER_SHIPPED, suggesting `requestReturn`)."""
        principal = await self.context.require_principal()
        order_id = parse_uuid(raw_id, "id")
        is_admin = principal.has_any_role(Role.ADMIN)
        async with self.saga.sessionmaker() as session, session.begin():
            order = await repository.get(session, order_id, lock=True)
            if order is None:
                raise NotFound("No such order.", field="id")
            if not (is_admin or principal.is_user(order.user_id)):
                raise Forbidden("Only the customer who placed it or an admin cancels an order.")
            if order.shipped_at is not None:
                # Set by beginOrderShipment under this same lock: a parcel has left, so no refund-and-restock.
                raise OrderShipped(
                    "The order has shipped: it cannot be cancelled; request a return once it is delivered.",
                    field="id",
                    suggestion="requestReturn",
                )
            if (
                order.status in (OrderStatus.CANCELLED, OrderStatus.FAILED)
                or order.saga_state != SagaState.DONE
            ):
                raise _not_cancellable(order)
            who = "an admin" if is_admin and not principal.is_user(order.user_id) else "the customer"
            await repository.update_order(
                session,
                order_id,
                {
                    "saga_state": SagaState.COMPENSATING,
                    "final_status": OrderStatus.CANCELLED,
                    "failure_code": "CANCELLED_BY_ADMIN" if who == "an admin" else "CANCELLED_BY_CUSTOMER",
                    "failure_reason": f"Cancelled by {who}.",
                    "lease_owner": self.saga.owner,
                    "lease_until": _lease_until(self.settings.saga_lease_seconds),
                },
            )
        self.saga.start(order_id)
        await self.saga.wait(order_id, self.settings.place_order_wait_seconds)
        async with self.saga.sessionmaker() as session:
            cancelled = await repository.get(session, order_id)
        assert cancelled is not None
        self.context.loaders.remember(cancelled)
        return cancelled

    # --- reading ---

    async def get_order(self, raw_id: object) -> Order | None:
        """An order its reader may see (owner, admin, partner, service); None when there is no such order."""
        order = await self.context.loaders.order.load(str(raw_id))
        if order is not None:
            await self.require_reader(order)
        return order

    async def require_reader(self, order: Order) -> Principal:
        principal = await self.context.require_principal()
        if not (
            principal.is_user(order.user_id) or principal.has_any_role(Role.ADMIN, Role.PARTNER, Role.SERVICE)
        ):
            raise Forbidden("This order belongs to another customer.")
        return principal

    async def list_orders(
        self, *, status: str | None, first: int | None, after: str | None, with_lines: bool = False
    ) -> OrderPage:
        principal = await self.context.require_principal()
        if not principal.has_any_role(Role.ADMIN, Role.PARTNER):
            raise Forbidden("Listing all orders needs the ADMIN or PARTNER role.")
        return await self._page(user_id=None, status=status, first=first, after=after, with_lines=with_lines)

    async def user_orders(
        self, raw_user_id: object, *, first: int | None, after: str | None, with_lines: bool = False
    ) -> OrderPage:
        """The user's orders, newest first; `with_lines`: their lines too (one statement for the page)."""
        principal = await self.context.require_principal()
        user_id = uuid_or_none(raw_user_id)
        if not (
            principal.is_user(raw_user_id) or principal.has_any_role(Role.ADMIN, Role.PARTNER, Role.SERVICE)
        ):
            raise Forbidden("A customer sees only their own orders.")
        if user_id is None:
            return OrderPage([], size=page_size(first), has_previous=False, kind="orders")
        return await self._page(user_id=user_id, status=None, first=first, after=after, with_lines=with_lines)

    async def _page(
        self,
        *,
        user_id: uuid.UUID | None,
        status: str | None,
        first: int | None,
        after: str | None,
        with_lines: bool,
    ) -> OrderPage:
        size = page_size(first)
        kind = f"orders:{user_id or '*'}:{status or '*'}"
        key = newest_first_position(after, kind) if after is not None else None
        orders = await repository.newest_page(
            self.session, user_id=user_id, status=status, after=key, limit=size + 1
        )
        for order in orders:
            self.context.loaders.remember(order)
        lines = None
        if with_lines:
            shown = [order.id for order in orders[:size]]
            lines = dict(zip(shown, await self.context.loaders.items.load_many(shown), strict=True))
        return OrderPage(orders, size=size, has_previous=after is not None, kind=kind, lines=lines)

    async def items(self, order: Order) -> list[OrderItem]:
        return await self.context.loaders.items.load(order.id)

    async def history(self, order: Order) -> list[OrderStatusChange]:
        return await self.context.loaders.history.load(order.id)


def _not_cancellable(order: Order) -> Conflict:
    """Why `order` cannot be cancelled now, told as it is: the losers of concurrent cancels find the winner's
    cancellation under way (COMPENSATING towards CANCELLED) while the order still reads CONFIRMED, and were
    told "already confirmed". `reason` says it to programs; `status` is the order's status as stored."""
    if order.saga_state == SagaState.RUNNING:
        message, reason = "The order is still being placed; try again in a moment.", "BEING_PLACED"
    elif order.saga_state == SagaState.COMPENSATING and order.final_status == OrderStatus.CANCELLED:
        message, reason = "The order is already being cancelled.", "BEING_CANCELLED"
    elif order.saga_state == SagaState.COMPENSATING:
        message, reason = "The order is being rolled back after a failure.", "BEING_ROLLED_BACK"
    elif order.status == OrderStatus.CANCELLED:
        message, reason = "The order is already cancelled.", "ALREADY_CANCELLED"
    else:
        message, reason = "The order failed: there is nothing to cancel.", "ALREADY_FAILED"
    return Conflict(message, field="id", reason=reason, status=order.status)


def _lease_until(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
