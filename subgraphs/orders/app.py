"""The orders service: its subgraph definition (the saga and its recovery worker, the abandoned-cart worker,
the consumer of `UserDeleted` and of shipping's shipment events) and ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from shared.peers import peer_health_check
from shared.privacy import forgetting_users
from shared.subscriptions import ConsumerSpec
from subgraphs.orders.abandoned_carts import run_abandoned_carts
from subgraphs.orders.feed import OrderFeed
from subgraphs.orders.fulfillment import following_shipments
from subgraphs.orders.leased_runs import recover_forever
from subgraphs.orders.loaders import build_loaders
from subgraphs.orders.metrics import OrdersMetrics
from subgraphs.orders.models import outbox
from subgraphs.orders.privacy import CONSUMER, user_deleted
from subgraphs.orders.returns_process import ReturnProcess
from subgraphs.orders.saga import Saga
from subgraphs.orders.schema import schema
from subgraphs.orders.settings import OrdersSettings
from subgraphs.orders.state import OrdersState


async def setup(runtime: Runtime[OrdersState]) -> OrdersState:
    settings = runtime.settings
    if not isinstance(settings, OrdersSettings):
        raise TypeError("the orders service runs with OrdersSettings")
    metrics = OrdersMetrics(runtime.metrics)
    saga = Saga(runtime, metrics)
    return OrdersState(
        settings=settings,
        metrics=metrics,
        saga=saga,
        feed=OrderFeed(runtime),
        returns=ReturnProcess(runtime, saga.peers),
    )


def consumer(runtime: Runtime[OrdersState]) -> ConsumerSpec:
    """Users' `UserDeleted` (a deleted user's carts go, privacy.py) and shipping's `Shipment*` (orders' copy
    of the order's shipments, and `OrderFulfillmentChanged`, fulfillment.py)."""
    return following_shipments(forgetting_users(CONSUMER, user_deleted(runtime, CONSUMER)))


async def teardown(runtime: Runtime[OrdersState]) -> None:
    await runtime.state.feed.close()
    # Returns in flight stop here (before the saga closes the peers they share); recovery finishes them.
    await runtime.state.returns.stop()
    # Sagas in flight stop here; their leases run out and a live replica's recovery worker finishes them.
    await runtime.state.saga.stop()


async def run_recovery(runtime: Runtime[OrdersState]) -> None:
    """The saga's recovery worker: every few seconds, take over the sagas of dead processes."""
    saga = runtime.state.saga
    await recover_forever("saga", saga.recover_once, saga.settings.recovery_interval_seconds)


async def run_return_recovery(runtime: Runtime[OrdersState]) -> None:
    """The returns' recovery worker: take over the received returns of dead processes."""
    returns = runtime.state.returns
    await recover_forever("return", returns.recover_once, returns.settings.recovery_interval_seconds)


definition = SubgraphDefinition[OrdersState](
    name="orders",
    settings_class=OrdersSettings,
    schema=schema,
    build_loaders=build_loaders,
    setup=setup,
    teardown=teardown,
    outbox=outbox,
    consumer=consumer,
    workers=[run_recovery, run_abandoned_carts, run_return_recovery],
    # Orders cannot take an order without the services its saga calls.
    readiness_checks={
        peer: peer_health_check(f"{peer}_url") for peer in ("products", "inventory", "payments")
    },
)


def build_app(settings: OrdersSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
