"""The inventory service: its subgraph definition (with the reservation sweeper and the consumer of the
catalog's events) and ASGI app."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from subgraphs.inventory.events import CONSUMER
from subgraphs.inventory.loaders import build_loaders
from subgraphs.inventory.metrics import InventoryMetrics
from subgraphs.inventory.models import outbox
from subgraphs.inventory.schema import schema
from subgraphs.inventory.service import sweep_expired_reservations
from subgraphs.inventory.settings import InventorySettings
from subgraphs.inventory.state import InventoryState

logger = logging.getLogger(__name__)


async def setup(runtime: Runtime[InventoryState]) -> InventoryState:
    settings = runtime.settings
    if not isinstance(settings, InventorySettings):
        raise TypeError("the inventory service runs with InventorySettings")
    return InventoryState(settings=settings, metrics=InventoryMetrics(runtime.metrics))


async def sweep_reservations(runtime: Runtime[InventoryState]) -> None:
    """Every `sweep_interval_seconds`, expire the reservations past their deadline and free their units."""
    state = runtime.state
    while True:
        try:
            expired = await sweep_expired_reservations(runtime.sessionmaker, state.settings, state.metrics)
            if expired:
                logger.info("expired %d lapsed reservations", expired)
        except Exception:
            # The database may be away for a while: try again next round rather than crash-looping.
            logger.exception("reservation sweep failed")
        await asyncio.sleep(state.settings.sweep_interval_seconds)


definition = SubgraphDefinition[InventoryState](
    name="inventory",
    settings_class=InventorySettings,
    schema=schema,
    build_loaders=build_loaders,
    setup=setup,
    outbox=outbox,
    # products' events keep the stock rows in step with the catalog: rows for new variants, archived ones
    # refused (events.py).
    consumer=CONSUMER,
    workers=[sweep_reservations],
)


def build_app(settings: InventorySettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
