"""The demo data of `myshop up` and `myshop seed`: accounts, a catalog and its stock, shipping zones and
methods, one module per service that has some. Demo data spans services (inventory stocks the catalog's
products by id), so it lives here, above the subgraphs, and no subgraph imports another for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

Seed = Callable[[AsyncSession], Awaitable[list[str]]]


def seed_of(service: str) -> Seed | None:
    """What loads `service`'s demo data (it flushes; the caller commits); None when it has none."""
    # Imported on demand: each pulls in its service's repository and models.
    if service == "users":
        from myshop.demo import users

        return users.seed
    if service == "products":
        from myshop.demo import products

        return products.seed_with_images
    if service == "inventory":
        from myshop.demo import inventory

        return inventory.seed
    if service == "shipping":
        from myshop.demo import shipping

        return shipping.seed
    if service == "orders":
        from myshop.demo import pricing

        return pricing.seed
    return None
