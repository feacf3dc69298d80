"""An order's fulfillment from its shipments: the one rule behind `Order.fulfillmentStatus` (shipping owns the
field and computes it from its shipments; orders applies it to its copies of them, for the subscriptions).

Per order line, shipped = the units in SHIPPED or DELIVERED shipments, delivered = those in DELIVERED ones
(PENDING, RETURNED and CANCELLED shipments do not count). UNFULFILLED: nothing shipped; DELIVERED: every line
fully delivered; FULFILLED: every line fully shipped; PARTIALLY_FULFILLED otherwise.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping


class FulfillmentStatus(enum.StrEnum):
    UNFULFILLED = "UNFULFILLED"
    PARTIALLY_FULFILLED = "PARTIALLY_FULFILLED"
    FULFILLED = "FULFILLED"
    DELIVERED = "DELIVERED"


def fulfillment_status(
    ordered: Mapping[int, int], shipments: Iterable[tuple[str, Iterable[Mapping[str, int]]]]
) -> FulfillmentStatus:
    """The status of an order of `ordered` (line -> units) given its `shipments`, each (status,
    [{line, quantity}])."""
    shipped: dict[int, int] = {}
    delivered: dict[int, int] = {}
    for status, lines in shipments:
        if status not in ("SHIPPED", "DELIVERED"):
            continue
        for entry in lines:
            shipped[entry["line"]] = shipped.get(entry["line"], 0) + entry["quantity"]
            if status == "DELIVERED":
                delivered[entry["line"]] = delivered.get(entry["line"], 0) + entry["quantity"]
    if not ordered or not shipped:
        return FulfillmentStatus.UNFULFILLED
    if all(delivered.get(line, 0) >= units for line, units in ordered.items()):
        return FulfillmentStatus.DELIVERED
    if all(shipped.get(line, 0) >= units for line, units in ordered.items()):
        return FulfillmentStatus.FULFILLED
    return FulfillmentStatus.PARTIALLY_FULFILLED
