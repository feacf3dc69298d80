"""Fixtures of the shipping tests: tokens by role, the API helper over the stack's shipping, and a shipping
server of this module's own whose schema has the `Cart` extension on (orders has no `Cart` in this branch, so
the committed schema leaves it out: `subgraphs.shipping.schema.CART_EXTENSION`)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from shipping_api import ShippingApi

from shared.app import create_subgraph_app
from shared.auth import TokenIssuer
from shared.testing import ServerThread
from subgraphs.shipping.app import definition
from subgraphs.shipping.schema import build_shipping_schema


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


@pytest.fixture(scope="module")
def cart_server(stack: Any) -> Iterator[ServerThread]:
    """Shipping with `Cart.availableShippingMethods`, on the stack's shipping database."""
    with_cart = dataclasses.replace(definition, schema=build_shipping_schema(cart_extension=True))
    server = ServerThread(create_subgraph_app(with_cart, stack.settings["shipping"])).start()
    yield server
    server.stop()
