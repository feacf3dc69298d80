"""The fulfillment rule and tracking links as functions (no services): which shipments count, and how a known
carrier's page is built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.errors import BadUserInput
from subgraphs.shipping.fulfillment import (
    AskedLine,
    clean_tracking,
    fulfillment_status,
    held_quantities,
    shipment_lines,
    tracking_page,
)

ORDER = [{"line": 1, "quantity": 2}, {"line": 2, "quantity": 1}]


@dataclass
class Parcel:
    status: str
    lines: list[dict[str, Any]] = field(default_factory=list)


def parcel(status: str, *lines: tuple[int, int]) -> Parcel:
    return Parcel(status, [{"line": line, "quantity": quantity} for line, quantity in lines])


@pytest.mark.parametrize(
    ("parcels", "expected"),
    [
        ([], "UNFULFILLED"),
        ([parcel("PENDING", (1, 2), (2, 1))], "UNFULFILLED"),
        ([parcel("RETURNED", (1, 2), (2, 1)), parcel("CANCELLED", (1, 1))], "UNFULFILLED"),
        ([parcel("SHIPPED", (1, 1))], "PARTIALLY_FULFILLED"),
        ([parcel("DELIVERED", (1, 2)), parcel("PENDING", (2, 1))], "PARTIALLY_FULFILLED"),
        ([parcel("SHIPPED", (1, 2)), parcel("DELIVERED", (2, 1))], "FULFILLED"),
        ([parcel("DELIVERED", (1, 1)), parcel("DELIVERED", (1, 1), (2, 1))], "DELIVERED"),
    ],
)
def test_fulfillment_counts_shipped_and_delivered_units_per_line(
    parcels: list[Parcel], expected: str
) -> None:
    assert fulfillment_status(ORDER, parcels) == expected


def test_pending_shipped_and_delivered_parcels_hold_their_units_returned_and_cancelled_ones_do_not() -> None:
    parcels = [
        parcel("PENDING", (1, 1)),
        parcel("SHIPPED", (2, 1)),
        parcel("RETURNED", (1, 1)),
        parcel("CANCELLED", (1, 1)),
    ]

    held = held_quantities(parcels)

    assert held == {1: 1, 2: 1}
    assert shipment_lines([AskedLine(1, 1)], ORDER, held) == [{"line": 1, "quantity": 1}]
    with pytest.raises(BadUserInput) as refused:
        shipment_lines([AskedLine(1, 1), AskedLine(2, 1)], ORDER, held)
    assert refused.value.field == "input.lines[1].quantity" and refused.value.extra["left"] == 0


def test_a_known_carriers_page_takes_the_number_url_encoded_and_an_unknown_carrier_has_none() -> None:
    assert tracking_page("Royal-Mail", "AB 12/3?x") == (
        "https://www.royalmail.com/track-your-item#/tracking-results/AB%2012%2F3%3Fx"
    )
    assert tracking_page("fedEx", "7") == "https://www.fedex.com/fedextrack/?trknbr=7"
    assert tracking_page("Pigeon Post", "7") is None
    assert clean_tracking("  UPS ", " 1Z ", None).tracking_url == "https://www.ups.com/track?tracknum=1Z"
    assert clean_tracking("UPS", "1Z", "https://t.example/1Z").tracking_url == "https://t.example/1Z"
