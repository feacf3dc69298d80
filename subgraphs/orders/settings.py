"""Settings of the orders service (`MYSHOP_ORDERS_*`): its peers; the saga's timeouts, retries, leases."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, service_config


class OrdersSettings(ServiceSettings):
    model_config = service_config("orders")
    service_name: ClassVar[str] = "orders"

    # --- peers (their GraphQL endpoints) ---
    products_url: str = "http://127.0.0.1:4002/graphql"
    inventory_url: str = "http://127.0.0.1:4005/graphql"
    payments_url: str = "http://127.0.0.1:4004/graphql"
    # The address book a cart's address id comes from (carts.py); not needed to take an order.
    users_url: str = "http://127.0.0.1:4001/graphql"
    # Shipping quotes the cart's method at checkout.
    shipping_url: str = "http://127.0.0.1:4008/graphql"

    # --- the saga ---
    # One call to a peer; past it the outcome is unknown and the step is retried with the same key.
    step_timeout_seconds: float = Field(5.0, gt=0)
    # How long a forward step keeps retrying transient failures before the saga gives up and compensates.
    step_deadline_seconds: float = Field(20.0, gt=0)
    # Backoff between retries: doubling from the first, capped (compensation retries forever at the cap).
    retry_initial_seconds: float = Field(0.1, gt=0)
    retry_max_seconds: float = Field(5.0, gt=0)
    # How long `placeOrder` waits for its saga before answering with the order as it stands (it goes on).
    place_order_wait_seconds: float = Field(30.0, gt=0)
    # A process driving a saga holds its lease, renewed while it works; an expired lease means the process
    # died, and the recovery worker of any replica takes the saga over.
    saga_lease_seconds: float = Field(15.0, gt=0)
    recovery_interval_seconds: float = Field(2.0, gt=0)

    # --- returns (returns.py) ---
    # Delivered units may be returned for this many days after their delivery.
    return_window_days: int = Field(30, gt=0, le=3650)
    # How long receiveReturn waits for the refund and restock before answering with the return as it stands
    # (RECEIVED: the process goes on, and a recovery worker finishes it if this process dies).
    receive_return_wait_seconds: float = Field(10.0, gt=0)

    # --- pricing (pricing.py) ---
    # False (the default): catalog prices are net and tax is added on top (a B2B or US-style store).
    # True: catalog prices include tax and the tax is taken out of them (an EU-style consumer store).
    # One setting for the whole store: switching it changes what every catalog price means.
    prices_include_tax: bool = False

    # --- abandoned carts (abandoned_carts.py) ---
    # A signed-in customer's cart with lines and no activity for this long is told once (`CartAbandoned`).
    cart_abandoned_after_seconds: float = Field(24 * 3600.0, gt=0)
    abandoned_carts_interval_seconds: float = Field(60.0, gt=0)
    # Carts told per pass (each pass one transaction): a backlog drains over several passes.
    abandoned_carts_batch: int = Field(100, gt=0, le=10_000)
