"""Where reports come from: the read database when MYSHOP_ANALYTICS_READ_DATABASE_URL is set (the consumer
still writes to the main one); and, in the running stack, the real services' events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics_helpers import EVER, SALES, STATS, Launcher, money, order_event
from eventually import eventually

from subgraphs.analytics.models import OrderFact

CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation A($id: ID!) { adjustStock(productId: $id, delta: 5, reason: "analytics test") { id } }'
PLACE = "mutation P($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"
VIEW = "query V($id: ID!) { product(id: $id) { id } }"


async def test_reports_read_the_read_database_when_one_is_set(launcher: Launcher) -> None:
    replica_url = await launcher.scratch_database("analytics")
    replica = launcher.sessions(replica_url)
    analytics = await launcher.start(read_database_url=replica_url)
    # Given an order the consumer applied to the main database
    lines = [(str(uuid.uuid4()), 1, 1250)]
    await analytics.publish(order_event("OrderConfirmed", str(uuid.uuid4()), items=lines))
    await analytics.caught_up("orders")
    # and another that only the read database holds
    now = datetime.now(UTC)
    async with replica() as session, session.begin():
        session.add(OrderFact(order_id=uuid.uuid4(), currency="EUR", total_amount=700, confirmed_at=now))

    summary = (await analytics.query(SALES, EVER))["salesSummary"]

    assert (summary["confirmedOrders"], summary["grossRevenue"]) == (1, money((700, "EUR")))
    assert await analytics.processed() == 1


async def test_the_stack_reports_an_order_placed_and_a_product_read_through_the_services(
    gql: Any, issuer: Any
) -> None:
    started = datetime.now(UTC)
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    customer = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token
    product_input = {
        "sku": f"ANL-{uuid.uuid4().hex[:8].upper()}",
        "name": "Analytics mug",
        "price": {"amount": 1250, "currency": "USD"},
        "category": "Tests",
    }
    product = (await gql("products", CREATE_PRODUCT, {"input": product_input}, token=admin)).ok()
    product_id = product["createProduct"]["id"]
    (await gql("inventory", ADJUST, {"id": product_id}, token=admin)).ok()
    order_input = {
        "items": [{"productId": product_id, "quantity": 2}],
        "paymentMethod": "tok_approve",
        "idempotencyKey": uuid.uuid4().hex,
    }

    placed = (await gql("orders", PLACE, {"input": order_input}, token=customer)).ok()["placeOrder"]
    (await gql("products", VIEW, {"id": product_id})).ok()

    assert placed["status"] == "CONFIRMED"
    stats = {"views": 1, "searches": 0, "unitsSold": 2, "revenue": money((2500, "USD"))}
    representations = [{"__typename": "Product", "id": product_id}]
    # Windowed from the test's start: events of earlier tests still in flight cannot count.
    window = {"from": started.isoformat(), "to": (started + timedelta(hours=1)).isoformat()}

    async def figures() -> tuple[dict[str, Any], dict[str, Any]]:
        seen = (await gql("analytics", STATS, {"representations": representations}, token=admin)).ok()
        return seen, (await gql("analytics", SALES, window, token=admin)).ok()["salesSummary"]

    _, sales = await eventually(
        figures, lambda f: f[0]["_entities"][0]["stats"] == stats and f[1]["confirmedOrders"] == 1, within=30
    )
    assert (sales["orders"], sales["grossRevenue"]) == (1, money((2500, "USD")))
