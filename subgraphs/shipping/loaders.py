"""Per-request DataLoaders: methods by id (`_entities`), zones by id, the methods of zones and the active
methods of the zone of each country (every cart of one `_entities` call in one read); shipments by id, and
each order's snapshot and shipments (every order of one `_entities` call in one read)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from shared.ids import uuid_or_none
from subgraphs.shipping import repository, shipment_repository
from subgraphs.shipping.models import FulfillmentOrder, Shipment, ShippingMethod, ShippingZone

if TYPE_CHECKING:
    from shared.context import Context


class ShippingLoaders:
    def __init__(self, context: Context) -> None:
        self._context = context
        self.method: DataLoader[str, ShippingMethod | None] = DataLoader(load_fn=self._load_methods)
        self.zone: DataLoader[uuid.UUID, ShippingZone | None] = DataLoader(load_fn=self._load_zones)
        self.methods_of_zone: DataLoader[uuid.UUID, list[ShippingMethod]] = DataLoader(
            load_fn=self._load_methods_of_zones
        )
        self.active_methods_for_country: DataLoader[str, list[ShippingMethod]] = DataLoader(
            load_fn=self._load_active_methods_for_countries
        )
        self.shipment: DataLoader[str, Shipment | None] = DataLoader(load_fn=self._load_shipments)
        self.fulfillment_order: DataLoader[str, FulfillmentOrder | None] = DataLoader(
            load_fn=self._load_fulfillment_orders
        )
        self.shipments_of_order: DataLoader[uuid.UUID, list[Shipment]] = DataLoader(
            load_fn=self._load_shipments_of_orders
        )

    async def _load_methods(self, keys: Sequence[str]) -> list[ShippingMethod | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = {method_id for method_id in ids if method_id is not None}
        found = {method.id: method for method in await repository.get_methods(self._context.session, wanted)}
        return [found.get(method_id) if method_id is not None else None for method_id in ids]

    async def _load_zones(self, keys: Sequence[uuid.UUID]) -> list[ShippingZone | None]:
        found = {zone.id: zone for zone in await repository.get_zones(self._context.session, set(keys))}
        return [found.get(key) for key in keys]

    async def _load_methods_of_zones(self, keys: Sequence[uuid.UUID]) -> list[list[ShippingMethod]]:
        by_zone: dict[uuid.UUID, list[ShippingMethod]] = {key: [] for key in keys}
        for method in await repository.methods_of_zones(self._context.session, set(keys)):
            by_zone[method.zone_id].append(method)
        return [by_zone[key] for key in keys]

    async def _load_active_methods_for_countries(self, keys: Sequence[str]) -> list[list[ShippingMethod]]:
        session = self._context.session
        zone_of = await repository.zones_of_countries(session, set(keys))
        by_zone: dict[uuid.UUID, list[ShippingMethod]] = {zone_id: [] for zone_id in zone_of.values()}
        if by_zone:
            for method in await repository.methods_of_zones(session, set(by_zone), active_only=True):
                by_zone[method.zone_id].append(method)
        return [by_zone.get(zone_of[key], []) if key in zone_of else [] for key in keys]

    async def _load_shipments(self, keys: Sequence[str]) -> list[Shipment | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = {shipment_id for shipment_id in ids if shipment_id is not None}
        rows = await shipment_repository.get_shipments(self._context.session, wanted) if wanted else []
        found = {row.id: row for row in rows}
        return [found.get(shipment_id) if shipment_id is not None else None for shipment_id in ids]

    async def _load_fulfillment_orders(self, keys: Sequence[str]) -> list[FulfillmentOrder | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = {order_id for order_id in ids if order_id is not None}
        rows = await shipment_repository.fulfillment_orders(self._context.session, wanted) if wanted else []
        found = {row.order_id: row for row in rows}
        return [found.get(order_id) if order_id is not None else None for order_id in ids]

    async def _load_shipments_of_orders(self, keys: Sequence[uuid.UUID]) -> list[list[Shipment]]:
        by_order: dict[uuid.UUID, list[Shipment]] = {key: [] for key in keys}
        for row in await shipment_repository.shipments_of_orders(self._context.session, set(keys)):
            by_order[row.order_id].append(row)
        return [by_order[key] for key in keys]

    def remember(self, method: ShippingMethod) -> None:
        """After a change in this request, later reads by id see the changed method."""
        self.method.prime(str(method.id), method, force=True)


def build_loaders(context: Context) -> ShippingLoaders:
    return ShippingLoaders(context)
