"""Returns of delivered units: request, approve, reject, receive; who sees them. Rules here, SQL in
returns_repository.py, the refund's arithmetic in returns_refund.py, what follows the receipt (the refund and
the restock, with their recovery) in returns_process.py.

A customer returns units of their order that were delivered (orders' copy of shipping's shipments:
`order_shipments` rows with status DELIVERED), within `return_window_days` of the delivery of those units,
less the units already in returns that were not rejected. Units already in returns count against the line's
earliest deliveries first, so the units still returnable are the most recently delivered ones.

The request, approval and rejection run in the request's transaction; receiving is the exception (like
placing an order): the return must be committed RECEIVED, with its first step STARTED, before the process
calls payments and inventory, so it writes through the process's own sessions.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.context import Context
from shared.errors import BadUserInput, Conflict, Forbidden, MyShopError, NotFound
from shared.ids import clean_key, parse_uuid
from shared.pagination import newest_first_cursor, newest_first_position, page_size
from subgraphs.orders import repository
from subgraphs.orders import returns_repository as returns_sql
from subgraphs.orders.events import OrderEvent
from subgraphs.orders.models import (
    RETURN_REASON_MAX_LENGTH,
    Order,
    OrderItem,
    Return,
    ReturnLine,
    ReturnStatus,
)
from subgraphs.orders.returns_events import emit
from subgraphs.orders.returns_refund import RefundFigures, refund_of
from subgraphs.orders.settings import OrdersSettings
from subgraphs.orders.state import OrdersState

MAX_RETURN_LINES = 100
MAX_RETURN_QUANTITY = 1000
IDEMPOTENCY_KEY_MAX_LENGTH = 100
# Who decides on returns and receives the parcels.
DECIDERS = (Role.ADMIN, Role.PARTNER)
# Returns whose units count as returned (asked for, on the way, or back).
LIVE = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.RECEIVED, ReturnStatus.REFUNDED)
# Returns whose refund is fixed (returns_refund.py: the shares of later returns count after them).
FIXED = (ReturnStatus.RECEIVED, ReturnStatus.REFUNDED)
# Why a return is not allowed (`extensions.reason` of RETURN_NOT_ALLOWED).
NOT_DELIVERED = "NOT_DELIVERED"
WINDOW_PASSED = "WINDOW_PASSED"


class ReturnNotAllowed(MyShopError):
    """Nothing of what is asked can be returned: not delivered, or delivered too long ago (`reason`)."""

    code = "RETURN_NOT_ALLOWED"


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    order_id: uuid.UUID
    quantities: dict[int, int]  # order line -> units, in the order given
    reason: str
    key: str

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(orjson.dumps([sorted(self.quantities.items()), self.reason])).hexdigest()


@dataclass(frozen=True, slots=True)
class ReturnPage:
    returns: list[Return]
    size: int
    has_previous: bool
    kind: str

    def cursor_of(self, row: Return) -> str:
        return newest_first_cursor(self.kind, row.created_at, row.id)


# --- input rules ---


def clean_reason(value: object, field: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= RETURN_REASON_MAX_LENGTH:
        raise BadUserInput(f"The reason is 1 to {RETURN_REASON_MAX_LENGTH} characters.", field=field)
    if any(ord(char) < 32 and char not in "\n\t" for char in text):
        raise BadUserInput("The reason cannot hold control characters.", field=field)
    return text


def clean_request(
    raw_order_id: object, raw_lines: Sequence[tuple[object, object]], raw_reason: object, raw_key: object
) -> ReturnRequest:
    order_id = parse_uuid(raw_order_id, "input.orderId", "an order id")
    if not raw_lines:
        raise BadUserInput("A return names at least one line.", field="input.lines")
    if len(raw_lines) > MAX_RETURN_LINES:
        raise BadUserInput(f"A return names at most {MAX_RETURN_LINES} lines.", field="input.lines")
    quantities: dict[int, int] = {}
    for index, (line, quantity) in enumerate(raw_lines):
        if type(line) is not int or line < 1:
            raise BadUserInput(
                "A line is its number in the order, from 1.", field=f"input.lines[{index}].line"
            )
        if line in quantities:
            raise BadUserInput("Each line is named once.", field=f"input.lines[{index}].line")
        if type(quantity) is not int or not 1 <= quantity <= MAX_RETURN_QUANTITY:
            raise BadUserInput(
                f"A quantity is 1 to {MAX_RETURN_QUANTITY}.", field=f"input.lines[{index}].quantity"
            )
        quantities[line] = quantity
    return ReturnRequest(
        order_id=order_id,
        quantities=quantities,
        reason=clean_reason(raw_reason, "input.reason"),
        key=clean_key(raw_key, field="input.idempotencyKey", max_length=IDEMPOTENCY_KEY_MAX_LENGTH),
    )


def returnable_units(
    deliveries: Sequence[returns_sql.Delivery], returned: int, line: int, since: datetime
) -> tuple[int, int]:
    """(units of `line` returnable now, units delivered before the window that are not returned): `returned`
    units (in live returns) count against the earliest deliveries first."""
    within = expired = 0
    left = returned
    for delivery in deliveries:  # oldest first
        if delivery.line != line:
            continue
        free = delivery.quantity - min(left, delivery.quantity)
        left -= delivery.quantity - free
        if delivery.delivered_at >= since:
            within += free
        else:
            expired += free
    return within, expired


class ReturnService:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.state: OrdersState = context.runtime.state
        settings = context.settings
        assert isinstance(settings, OrdersSettings)
        self.settings = settings

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    # --- the customer asks ---

    async def request(
        self,
        raw_order_id: object,
        raw_lines: Sequence[tuple[object, object]],
        raw_reason: object,
        raw_key: object,
    ) -> Return:
        """Ask to return delivered units: the order's customer (or an admin). The same key answers the same
        return; the same key with another request is CONFLICT."""
        principal = await self.context.require_principal()
        request = clean_request(raw_order_id, raw_lines, raw_reason, raw_key)
        # The order's row, locked: returns of one order are requested one at a time, so two concurrent
        # requests never return the same units twice.
        order = await repository.get(self.session, request.order_id, lock=True)
        if order is None:
            raise NotFound("No such order.", field="input.orderId")
        if not (principal.is_user(order.user_id) or principal.has_any_role(Role.ADMIN)):
            raise Forbidden("Only the customer who placed the order, or an admin, asks for a return.")
        existing = await returns_sql.get_by_key(self.session, order.id, request.key)
        if existing is not None:
            if existing.request_hash != request.fingerprint:
                raise Conflict(
                    "This idempotency key was used for another return.",
                    field="input.idempotencyKey",
                    reason="IDEMPOTENCY_KEY_REUSED",
                )
            return existing
        items = (await repository.items_of(self.session, [order.id]))[order.id]
        live = await returns_sql.units_in_returns(self.session, order.id, LIVE)
        await self._check_returnable(order, items, request, live)
        figures = refund_of(order, items, request.quantities, live)
        row = await returns_sql.insert_return(
            self.session,
            {
                "id": uuid.uuid4(),
                "order_id": order.id,
                "user_id": order.user_id,
                "idempotency_key": request.key,
                "request_hash": request.fingerprint,
                "status": ReturnStatus.REQUESTED,
                "reason": request.reason,
                "currency": order.currency,
                **_figure_columns(figures),
            },
        )
        assert row is not None  # the key was free under the order's lock
        await returns_sql.insert_lines(
            self.session,
            [{"return_id": row.id, **_line_columns(figures, line)} for line in request.quantities],
        )
        await emit(self.session, OrderEvent.RETURN_REQUESTED, row)
        return row

    async def _check_returnable(
        self, order: Order, items: list[OrderItem], request: ReturnRequest, live: dict[int, int]
    ) -> None:
        known = {item.line for item in items}
        for index, line in enumerate(request.quantities):
            if line not in known:
                raise BadUserInput("The order has no such line.", field=f"input.lines[{index}].line")
        deliveries = await returns_sql.deliveries(self.session, order.id)
        if not deliveries:
            raise ReturnNotAllowed(
                "Nothing of this order was delivered yet: a return can be asked for after delivery.",
                field="input.orderId",
                reason=NOT_DELIVERED,
            )
        since = datetime.now(UTC) - timedelta(days=self.settings.return_window_days)
        for index, (line, quantity) in enumerate(request.quantities.items()):
            field = f"input.lines[{index}].quantity"
            within, expired = returnable_units(deliveries, live.get(line, 0), line, since)
            if quantity <= within:
                continue
            if within + expired == 0 and not any(d.line == line for d in deliveries):
                raise ReturnNotAllowed(
                    "This line was not delivered yet.",
                    field=f"input.lines[{index}].line",
                    reason=NOT_DELIVERED,
                )
            if quantity <= within + expired:
                raise ReturnNotAllowed(
                    f"Units are returnable for {self.settings.return_window_days} days after their delivery; "
                    f"{within} of this line still are.",
                    field=field,
                    reason=WINDOW_PASSED,
                    returnable=within,
                )
            raise BadUserInput(
                f"Only {within} delivered units of this line can be returned.", field=field, returnable=within
            )

    # --- staff decides, then receives the parcel ---

    async def approve(self, raw_id: object) -> Return:
        """REQUESTED -> APPROVED; a repeat (or a later state) answers the return as it is."""
        await self._require_decider()
        row = await self._locked(raw_id)
        if row.status == ReturnStatus.REQUESTED:
            row = await returns_sql.update_return(
                self.session, row.id, {"status": ReturnStatus.APPROVED, "approved_at": datetime.now(UTC)}
            )
            await emit(self.session, OrderEvent.RETURN_APPROVED, row)
        elif row.status == ReturnStatus.REJECTED:
            raise _wrong_state(row, "A rejected return cannot be approved.")
        return row

    async def reject(self, raw_id: object, raw_reason: object) -> Return:
        """REQUESTED -> REJECTED with why; a repeat answers the rejected return as it is."""
        await self._require_decider()
        reason = clean_reason(raw_reason, "reason")
        row = await self._locked(raw_id)
        if row.status == ReturnStatus.REQUESTED:
            row = await returns_sql.update_return(
                self.session,
                row.id,
                {
                    "status": ReturnStatus.REJECTED,
                    "rejected_at": datetime.now(UTC),
                    "rejection_reason": reason,
                },
            )
            await emit(self.session, OrderEvent.RETURN_REJECTED, row)
        elif row.status != ReturnStatus.REJECTED:
            raise _wrong_state(row, "Only a requested return can be rejected.")
        return row

    async def receive(self, raw_id: object) -> Return:
        """APPROVED -> RECEIVED: the refund is fixed and the process (refund, restock) starts; answers once it
        is REFUNDED or after `receive_return_wait_seconds` (it goes on). A repeat answers the return as it
        is."""
        await self._require_decider()
        return_id = parse_uuid(raw_id, "id")
        process = self.state.returns
        async with process.sessionmaker() as session, session.begin():
            found = await returns_sql.get(session, return_id)
            if found is None:
                raise NotFound("No such return.", field="id")
            # The order's row first (the lock order of requestReturn), then the return's: receipts of one
            # order fix their refunds one at a time.
            order = await repository.get(session, found.order_id, lock=True)
            row = await returns_sql.get(session, return_id, lock=True)
            assert order is not None and row is not None
            if row.status in (ReturnStatus.REQUESTED, ReturnStatus.REJECTED):
                raise _wrong_state(row, "Only an approved return can be received.")
            started = row.status == ReturnStatus.APPROVED
            if started:
                await self._fix_refund(session, order, row)
                row = await returns_sql.update_return(
                    session,
                    row.id,
                    {
                        "status": ReturnStatus.RECEIVED,
                        "received_at": datetime.now(UTC),
                        "lease_owner": process.owner,
                        "lease_until": datetime.now(UTC)
                        + timedelta(seconds=self.settings.saga_lease_seconds),
                    },
                )
                # The first step is recorded before its peer is called (this commit comes first).
                await process.announce_first_step(session, row)
                await emit(session, OrderEvent.RETURN_RECEIVED, row)
        if started:
            process.start(return_id, announced=True)
        if row.status == ReturnStatus.RECEIVED:
            await process.wait(return_id, self.settings.receive_return_wait_seconds)
        async with process.sessionmaker() as session:
            latest = await returns_sql.get(session, return_id)
        assert latest is not None
        return latest

    async def _fix_refund(self, session: AsyncSession, order: Order, row: Return) -> None:
        """Fix the return's refund: its shares after every return received before it (returns_refund.py)."""
        items = (await repository.items_of(session, [order.id]))[order.id]
        lines = (await returns_sql.lines_of(session, [row.id]))[row.id]
        fixed = await returns_sql.units_in_returns(session, order.id, FIXED, excluding=row.id)
        figures = refund_of(order, items, {line.line: line.quantity for line in lines}, fixed)
        await returns_sql.set_line_figures(
            session, row.id, [_line_columns(figures, line.line) for line in lines]
        )
        await returns_sql.update_return(session, row.id, _figure_columns(figures))

    async def _require_decider(self) -> Principal:
        principal = await self.context.require_principal()
        if not principal.has_any_role(*DECIDERS):
            raise Forbidden("Returns are decided and received by ADMIN or PARTNER.")
        return principal

    async def _locked(self, raw_id: object) -> Return:
        row = await returns_sql.get(self.session, parse_uuid(raw_id, "id"), lock=True)
        if row is None:
            raise NotFound("No such return.", field="id")
        return row

    # --- reading ---

    async def get_return(self, raw_id: object) -> Return | None:
        """A return its reader may see (the order's customer, ADMIN, PARTNER, SERVICE); None when none."""
        principal = await self.context.require_principal()
        row = await self.context.loaders.returns.by_id.load(str(raw_id))
        if row is None:
            return None
        if not (principal.is_user(row.user_id) or principal.has_any_role(*DECIDERS, Role.SERVICE)):
            raise Forbidden("This return belongs to another customer.")
        return row

    async def list_returns(self, *, status: str | None, first: int | None, after: str | None) -> ReturnPage:
        principal = await self.context.require_principal()
        if not principal.has_any_role(*DECIDERS):
            raise Forbidden("Listing returns needs the ADMIN or PARTNER role.")
        size = page_size(first)
        kind = f"returns:{status or '*'}"
        key = newest_first_position(after, kind) if after is not None else None
        rows = await returns_sql.newest_page(self.session, status=status, after=key, limit=size + 1)
        return ReturnPage(rows, size=size, has_previous=after is not None, kind=kind)

    async def returns_of(self, order: Order) -> list[Return]:
        """An order's returns, oldest first (the order was checked visible to the reader)."""
        return await self.context.loaders.returns.of_order.load(order.id)

    async def lines(self, row: Return) -> list[ReturnLine]:
        return await self.context.loaders.returns.lines.load(row.id)

    async def items(self, row: Return) -> dict[int, OrderItem]:
        return {item.line: item for item in await self.context.loaders.items.load(row.order_id)}


def _wrong_state(row: Return, message: str) -> Conflict:
    return Conflict(message, field="id", reason=f"RETURN_{row.status}", status=row.status)


def _figure_columns(figures: RefundFigures) -> dict[str, int]:
    return {
        "refund_subtotal": figures.subtotal,
        "refund_discount": figures.discount,
        "refund_tax": figures.tax,
        "refund_shipping": figures.shipping,
        "refund_total": figures.total,
    }


def _line_columns(figures: RefundFigures, line: int) -> dict[str, Any]:
    [found] = [entry for entry in figures.lines if entry.line == line]
    return {
        "line": line,
        "quantity": found.quantity,
        "subtotal": found.subtotal,
        "discount": found.discount,
        "tax": found.tax,
        "refund": found.refund,
    }
