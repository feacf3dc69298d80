"""Fixtures of the shipping tests: tokens by role, the API helper over the stack's shipping, that server for
the tests of its `Cart` extension, and a shop of CONFIRMED orders for the shipments tests."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from shipments_shop import ShipmentsShop
from shipping_api import ShippingApi

from shared.auth import TokenIssuer
from shared.testing import ServerThread


@pytest.fixture
def admin_token(issuer: TokenIssuer) -> str:
    return issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token


@pytest.fixture
def customer_token(issuer: TokenIssuer) -> str:
    return issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token


@pytest.fixture
def service_token(issuer: TokenIssuer) -> str:
    return issuer.issue_service_token("orders").token


@pytest.fixture
def shipping(gql: Any, admin_token: str) -> ShippingApi:
    return ShippingApi(gql, admin_token)


@pytest.fixture
def cart_server(stack: Any) -> ServerThread:
    """The stack's shipping server, whose schema extends orders' `Cart`."""
    return stack.servers["shipping"]


@pytest.fixture
def shop(gql: Any, issuer: TokenIssuer, engines: dict[str, Any], redis: Any) -> ShipmentsShop:
    """Orders placed through the stack, and the shipment operations (as a PARTNER unless told)."""
    return ShipmentsShop(gql, issuer, engines, redis, os.environ["MYSHOP_REDIS_PREFIX"])
