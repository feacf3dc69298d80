"""What shipping asks orders, with its SERVICE token: an order's lines, customer and status
(`fulfillmentOrder`), and leave to ship it (`beginOrderShipment`, which sets the order's `shipped_at`, after
which orders refuses to cancel it). Both are orders' internal (@inaccessible) operations.

Orders is not in shipping's readiness: orders calls shipping (shipping methods at checkout), so each waiting
for the other would be a startup cycle. A shipment call while orders is down answers SERVICE_UNAVAILABLE.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import MyShopError, NotFound
from shared.peers import Peer, PeerRefused, PeerUnavailable

_FULFILLMENT_FIELDS = """
  id userId status currency createdAt shippedAt
  lines { line productId variantId sku productName variantLabel quantity }
"""
_FULFILLMENT_ORDER = f"""
query ShippingFulfillmentOrder($orderId: ID!) {{
  fulfillmentOrder(orderId: $orderId) {{ {_FULFILLMENT_FIELDS} }}
}}"""
_BEGIN_SHIPMENT = f"""
mutation ShippingBeginOrderShipment($orderId: ID!, $shipmentId: ID!) {{
  beginOrderShipment(orderId: $orderId, shipmentId: $shipmentId) {{ {_FULFILLMENT_FIELDS} }}
}}"""

# Orders' answers passed on to shipping's caller with their code (the order's state, not shipping's fault).
PASSED_ON_CODES = frozenset({"ORDER_NOT_SHIPPABLE", "NOT_FOUND", "CONFLICT"})


class OrdersUnavailable(MyShopError):
    """Orders did not answer (down, slow): nothing was kept; the same call may succeed later."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message, retryable=True, **extra)


class OrderRefused(MyShopError):
    """Orders' refusal passed on with its own code (`ORDER_NOT_SHIPPABLE` with the order's `status`)."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.code = code  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class OrderForShipping:
    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    currency: str
    created_at: datetime
    shipped_at: datetime | None
    # [{line, productId, variantId, sku, productName, variantLabel, quantity}], by line
    lines: list[dict[str, Any]]


def _order(data: dict[str, Any]) -> OrderForShipping:
    lines = [
        {
            "line": int(entry["line"]),
            "productId": str(entry["productId"]),
            "variantId": str(entry["variantId"]),
            "sku": entry.get("sku"),
            "productName": str(entry["productName"]),
            "variantLabel": entry.get("variantLabel"),
            "quantity": int(entry["quantity"]),
        }
        for entry in data["lines"]
    ]
    return OrderForShipping(
        id=uuid.UUID(str(data["id"])),
        user_id=uuid.UUID(str(data["userId"])),
        status=str(data["status"]),
        currency=str(data["currency"]),
        created_at=datetime.fromisoformat(str(data["createdAt"])),
        shipped_at=datetime.fromisoformat(str(data["shippedAt"])) if data.get("shippedAt") else None,
        lines=sorted(lines, key=lambda entry: entry["line"]),
    )


def _passed_on(exc: PeerRefused, field: str) -> MyShopError:
    extensions = {k: v for k, v in exc.extensions.items() if k not in ("code", "field")}
    if exc.code == "NOT_FOUND":
        return NotFound("No such order.", field=field)
    if exc.code in PASSED_ON_CODES:
        return OrderRefused(exc.code, exc.message or "Orders refused.", field=field, **extensions)
    # Anything else (a bad token, a schema mismatch) is ours to fix, not the caller's: masked as INTERNAL.
    raise RuntimeError(f"orders refused a shipping call: {exc}") from exc


class OrdersPeer:
    """Orders' internal operations for shipments."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    async def close(self) -> None:
        await self.peer.close()

    async def fulfillment_order(self, order_id: uuid.UUID) -> OrderForShipping | None:
        """The order as orders has it now; None when there is none."""
        try:
            data = await self.peer.call(_FULFILLMENT_ORDER, {"orderId": str(order_id)})
        except PeerUnavailable as exc:
            raise OrdersUnavailable("Orders is unavailable; try again.") from exc
        except PeerRefused as exc:
            raise _passed_on(exc, "input.orderId") from exc
        found = data.get("fulfillmentOrder")
        return _order(found) if found else None

    async def begin_order_shipment(self, order_id: uuid.UUID, shipment_id: uuid.UUID) -> OrderForShipping:
        """Orders' leave to ship (idempotent): refused unless the order is CONFIRMED (ORDER_NOT_SHIPPABLE)."""
        variables = {"orderId": str(order_id), "shipmentId": str(shipment_id)}
        try:
            data = await self.peer.call(_BEGIN_SHIPMENT, variables)
        except PeerUnavailable as exc:
            raise OrdersUnavailable("Orders is unavailable; try again.") from exc
        except PeerRefused as exc:
            raise _passed_on(exc, "id") from exc
        return _order(data["beginOrderShipment"])
