"""A return's events (events.py names their keys), written to orders' outbox in the transaction of the
change they report: by the requests (returns.py) and by the process after receipt (returns_process.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.orders import repository
from subgraphs.orders import returns_repository as returns_sql
from subgraphs.orders.events import OrderEvent
from subgraphs.orders.models import Return, outbox
from subgraphs.orders.order_price import variant_label


async def emit(session: AsyncSession, event: OrderEvent, row: Return) -> None:
    """A return's event (events.py: its keys), written in `session`'s transaction."""
    lines = (await returns_sql.lines_of(session, [row.id]))[row.id]
    items = {item.line: item for item in (await repository.items_of(session, [row.order_id]))[row.order_id]}
    payload = {
        "returnId": row.id,
        "orderId": row.order_id,
        "userId": row.user_id,
        "status": row.status,
        "reason": row.reason,
        "lines": [
            {
                "line": line.line,
                "productId": items[line.line].product_id,
                "variantId": items[line.line].variant_id,
                "productName": items[line.line].product_name,
                "variantLabel": variant_label(items[line.line].selected_options),
                "quantity": line.quantity,
                "refund": line.refund,
            }
            for line in lines
        ],
        "refund": {
            "subtotal": row.refund_subtotal,
            "discount": row.refund_discount,
            "tax": row.refund_tax,
            "shipping": row.refund_shipping,
            "total": row.refund_total,
        },
        "currency": row.currency,
        "rejectionReason": row.rejection_reason,
    }
    await outbox.emit(session, event, payload, aggregate_id=row.id)
