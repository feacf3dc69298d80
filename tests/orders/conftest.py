"""Fixtures of the orders tests: the whole stack (users, products, inventory, payments, orders) and a shop."""

from __future__ import annotations

from typing import Any

import pytest
from orders_shop import Shop


@pytest.fixture
def shop(gql: Any, issuer: Any, databases: dict[str, str]) -> Shop:
    return Shop(gql, issuer, databases)
