"""The fulfillment rule (shipping owns it) and the inputs of shipments: lines asked for against what each
order line may still ship, carriers, tracking numbers and tracking URLs.

Fulfillment of an order: `shared.fulfillment`'s rule (orders applies the same one to its copies of the
shipments). A line never has more than its quantity in shipments that hold it (PENDING, SHIPPED,
DELIVERED): a CANCELLED or RETURNED shipment gives its quantities back.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from shared.errors import BadUserInput
from shared.fulfillment import fulfillment_status as shared_fulfillment_status
from subgraphs.shipping.models import (
    CARRIER_MAX_LENGTH,
    HOLDING_STATUSES,
    RETURN_REASON_MAX_LENGTH,
    TRACKING_NUMBER_MAX_LENGTH,
    TRACKING_URL_MAX_LENGTH,
)

# Lines of one createShipment: an order has at most this many lines worth naming in one parcel.
MAX_SHIPMENT_LINES = 100
# Quantities bounded like orders' (an int that PostgreSQL's JSONB and GraphQL's Int both hold).
MAX_QUANTITY = 1_000_000


class HasLines(Protocol):
    status: str
    lines: list[dict[str, Any]]


def _sum_lines(shipments: Iterable[HasLines], statuses: frozenset[str]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for shipment in shipments:
        if shipment.status in statuses:
            for entry in shipment.lines:
                totals[entry["line"]] = totals.get(entry["line"], 0) + entry["quantity"]
    return totals


def held_quantities(shipments: Iterable[HasLines]) -> dict[int, int]:
    """Order line -> the quantity that shipments holding it (PENDING, SHIPPED, DELIVERED) have."""
    return _sum_lines(shipments, HOLDING_STATUSES)


def fulfillment_status(order_lines: Sequence[Mapping[str, Any]], shipments: Sequence[HasLines]) -> str:
    """The order's FulfillmentStatus (`shared.fulfillment`), from its lines and its shipments."""
    ordered = {entry["line"]: entry["quantity"] for entry in order_lines}
    return shared_fulfillment_status(ordered, ((shipment.status, shipment.lines) for shipment in shipments))


@dataclass(frozen=True, slots=True)
class AskedLine:
    line: int
    quantity: int


def clean_asked_lines(raw: Sequence[tuple[object, object]]) -> list[AskedLine]:
    """A createShipment's `lines` as given (bounds and shape only; the order's lines are checked later): 1 to
    MAX_SHIPMENT_LINES, each line named once, each quantity from 1."""
    if not raw:
        raise BadUserInput("A shipment has at least one line.", field="input.lines")
    if len(raw) > MAX_SHIPMENT_LINES:
        raise BadUserInput(
            f"A shipment has at most {MAX_SHIPMENT_LINES} lines.",
            field="input.lines",
            limit=MAX_SHIPMENT_LINES,
        )
    asked: list[AskedLine] = []
    seen: set[int] = set()
    for index, (line, quantity) in enumerate(raw):
        if type(line) is not int or line < 1:
            raise BadUserInput(
                "`line` is an order line's number, from 1.", field=f"input.lines[{index}].line"
            )
        if line in seen:
            raise BadUserInput("Each order line is named once.", field=f"input.lines[{index}].line")
        if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
            raise BadUserInput(
                f"The quantity is 1 to {MAX_QUANTITY}.", field=f"input.lines[{index}].quantity"
            )
        seen.add(line)
        asked.append(AskedLine(line, quantity))
    return asked


def shipment_lines(
    asked: Sequence[AskedLine], order_lines: Sequence[Mapping[str, Any]], held: Mapping[int, int]
) -> list[dict[str, Any]]:
    """The new shipment's lines (copies of the order's lines with the asked quantity), or BAD_USER_INPUT
    naming the first asked line the order does not have or cannot ship that much of (`ordered`, `left`)."""
    by_line = {entry["line"]: entry for entry in order_lines}
    lines: list[dict[str, Any]] = []
    for index, wanted in enumerate(asked):
        entry = by_line.get(wanted.line)
        if entry is None:
            raise BadUserInput("The order has no such line.", field=f"input.lines[{index}].line")
        left = entry["quantity"] - held.get(wanted.line, 0)
        if wanted.quantity > left:
            raise BadUserInput(
                "More than is left to ship of this line.",
                field=f"input.lines[{index}].quantity",
                reason="EXCEEDS_ORDERED",
                ordered=entry["quantity"],
                left=max(left, 0),
            )
        lines.append({**entry, "quantity": wanted.quantity})
    return sorted(lines, key=lambda entry: entry["line"])


# --- carriers and tracking -------------------------------------------------------------------------------

# Known carriers' public tracking pages; `{}` takes the URL-encoded tracking number. Keys are the carrier's
# name folded (`_fold`): "Royal Mail", "royal-mail" and "ROYALMAIL" are one carrier.
TRACKING_PAGES: dict[str, str] = {
    "dhl": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={}",
    "ups": "https://www.ups.com/track?tracknum={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{}",
    "gls": "https://gls-group.com/track/{}",
    "royalmail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    "postnl": "https://jouw.postnl.nl/track-and-trace/{}",
    "laposte": "https://www.laposte.fr/outils/suivre-vos-envois?code={}",
    "colissimo": "https://www.laposte.fr/outils/suivre-vos-envois?code={}",
    "deutschepost": "https://www.deutschepost.de/de/s/sendungsverfolgung.html?piececode={}",
    "canadapost": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
    "australiapost": "https://auspost.com.au/mypost/track/details/{}",
}


def _fold(name: str) -> str:
    return "".join(character for character in name.casefold() if character.isalnum())


def tracking_page(carrier: str, tracking_number: str) -> str | None:
    """The known carrier's tracking page of the parcel; None for a carrier not in TRACKING_PAGES."""
    template = TRACKING_PAGES.get(_fold(carrier))
    return template.format(quote(tracking_number, safe="")) if template is not None else None


def _has_control(text: str) -> bool:
    # Cc: C0/C1 controls (line breaks, tabs, escapes); Cf: invisible formatting (bidi overrides); Zl/Zp: the
    # Unicode line and paragraph separators. None belongs in a one-line label a mail or a page shows.
    return any(unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp") for character in text)


def single_line(value: object, field: str, *, maximum: int) -> str:
    """`value` stripped: 1 to `maximum` characters of one line, no control characters."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise BadUserInput(f"`{field}` cannot be blank.", field=field)
    if len(text) > maximum:
        raise BadUserInput(f"`{field}` is at most {maximum} characters.", field=field)
    if _has_control(text):
        raise BadUserInput(f"`{field}` is one line without control characters.", field=field)
    return text


def clean_tracking_url(value: object) -> str:
    """An absolute http(s) URL with a host, at most TRACKING_URL_MAX_LENGTH characters, no spaces or controls:
    a link a customer's mail carries must not be `javascript:` or a relative path."""
    text = single_line(value, "trackingUrl", maximum=TRACKING_URL_MAX_LENGTH)
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise BadUserInput("`trackingUrl` is not a URL.", field="trackingUrl") from exc
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname or any(c.isspace() for c in text):
        raise BadUserInput("`trackingUrl` is an http(s) URL.", field="trackingUrl")
    return text


@dataclass(frozen=True, slots=True)
class Tracking:
    carrier: str
    tracking_number: str
    tracking_url: str | None


def clean_tracking(carrier: object, tracking_number: object, tracking_url: object | None) -> Tracking:
    """markShipmentShipped's carrier and tracking: the given URL, or the known carrier's page, or none."""
    clean_carrier = single_line(carrier, "carrier", maximum=CARRIER_MAX_LENGTH)
    number = single_line(tracking_number, "trackingNumber", maximum=TRACKING_NUMBER_MAX_LENGTH)
    url = (
        clean_tracking_url(tracking_url) if tracking_url is not None else tracking_page(clean_carrier, number)
    )
    if url is not None and len(url) > TRACKING_URL_MAX_LENGTH:
        url = None  # a known page around a number near its bound: better no link than a cut one
    return Tracking(clean_carrier, number, url)


def clean_return_reason(value: object) -> str:
    return single_line(value, "reason", maximum=RETURN_REASON_MAX_LENGTH)
