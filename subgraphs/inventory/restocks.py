"""A return's units back on hand (`restockReturn`, called by orders once a return is received), once per key.

Runs in the request's transaction and never commits, like service.py's actions.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import BadUserInput
from shared.ids import parse_uuid
from subgraphs.inventory import events, repository
from subgraphs.inventory.repository import Movement
from subgraphs.inventory.service import (
    MAX_ON_HAND,
    InventoryService,
    StockLine,
    clean_key,
    clean_lines,
    clean_reason,
)


async def restock_return(
    service: InventoryService, key: object, order_id: object, lines: Sequence[StockLine], reason: object
) -> bool:
    """Put a return's units back on hand, once per key (orders' `return:<id>:restock`).

    The key's row is claimed first: a repeat (concurrent or late) waits for the first one's transaction
    and then adds nothing. Each variant's units are one ledger row with the caller's reason (naming the
    return) and one StockChanged. A variant inventory has no row of gets one (as a receipt does); the
    catalog's flags are not asked: returned units are on hand even if the variant was archived since.
    """
    restock_key = clean_key(key)
    oid = parse_uuid(order_id, "input.orderId", "an order id")
    merged = clean_lines(lines)
    why = clean_reason(reason, "input.reason")
    session = service.session
    if not await repository.insert_restock_if_new_key(session, restock_key, oid, why):
        return True
    for variant_id, quantity in merged:
        level = await repository.add_on_hand(session, variant_id, quantity, at_most=MAX_ON_HAND)
        if level is None:
            raise BadUserInput(
                f"A variant has at most {MAX_ON_HAND} units on hand.",
                field="input.lines",
                variantId=str(variant_id),
            )
        await events.stock_changed(
            session,
            level.available - quantity,
            level,
            why,
            low_threshold=service.settings.low_stock_threshold,
        )
    await repository.record_movements(
        session, [Movement(variant_id, quantity, 0, why) for variant_id, quantity in merged]
    )
    return True
