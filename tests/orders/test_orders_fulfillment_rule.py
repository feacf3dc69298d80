"""Shipping's fulfillment rule as orders applies it to its copies (when `orderStatusChanged` starts on an
order already delivered): PENDING, CANCELLED and RETURNED parcels count for nothing, DELIVERED ones for both
shipped and delivered units."""

from __future__ import annotations

import uuid

import pytest

from shared.fulfillment import FulfillmentStatus
from subgraphs.orders.fulfillment import fulfillment_status
from subgraphs.orders.models import OrderItem, OrderShipment


def items(*quantities: int) -> list[OrderItem]:
    return [OrderItem(line=n, quantity=q) for n, q in enumerate(quantities, start=1)]


def parcel(status: str, *lines: tuple[int, int]) -> OrderShipment:
    return OrderShipment(
        shipment_id=uuid.uuid4(), status=status, lines=[{"line": n, "quantity": q} for n, q in lines]
    )


@pytest.mark.parametrize(
    ("shipments", "expected"),
    [
        ([], FulfillmentStatus.UNFULFILLED),
        ([parcel("PENDING", (1, 1), (2, 2))], FulfillmentStatus.UNFULFILLED),
        ([parcel("RETURNED", (1, 1), (2, 2)), parcel("CANCELLED", (1, 1))], FulfillmentStatus.UNFULFILLED),
        ([parcel("SHIPPED", (2, 1))], FulfillmentStatus.PARTIALLY_FULFILLED),
        ([parcel("SHIPPED", (1, 1), (2, 2))], FulfillmentStatus.FULFILLED),
        ([parcel("DELIVERED", (1, 1)), parcel("SHIPPED", (2, 2))], FulfillmentStatus.FULFILLED),
        ([parcel("DELIVERED", (1, 1), (2, 1)), parcel("DELIVERED", (2, 1))], FulfillmentStatus.DELIVERED),
        (
            [parcel("DELIVERED", (1, 1), (2, 1)), parcel("RETURNED", (2, 1))],
            FulfillmentStatus.PARTIALLY_FULFILLED,
        ),
    ],
)
def test_an_orders_fulfillment_follows_its_shipped_and_delivered_units(
    shipments: list[OrderShipment], expected: FulfillmentStatus
) -> None:
    # Given an order of 1 unit on line 1 and 2 on line 2, and its parcels: when its fulfillment is read, then
    assert fulfillment_status(items(1, 2), shipments) == expected
