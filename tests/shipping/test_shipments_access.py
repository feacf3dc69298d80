"""Who may do what with shipments: staff (PARTNER, ADMIN) act and list; the order's customer reads; anyone
else is refused before any work. And the orders a shipment cannot be made for."""

from __future__ import annotations

import uuid
from typing import Any

from shipments_shop import CANCEL, DELIVER, RETURN, SHIPMENT, SHIPMENTS, Person, ShipmentsShop


def codes(response: Any) -> list[str | None]:
    return response.error_codes


async def test_customers_and_anonymous_callers_cannot_act_on_shipments(shop: ShipmentsShop) -> None:
    customer, order = await shop.order([2])
    shipment = await shop.created(order["id"], [(1, 1)])
    anonymous = Person("", "not-a-token")

    for caller, code in ((customer, "FORBIDDEN"), (shop.person("CUSTOMER"), "FORBIDDEN")):
        assert codes(await shop.create(order["id"], [(1, 1)], by=caller)) == [code]
        assert codes(await shop.ship(shipment["id"], by=caller)) == [code]
        for mutation, more in ((DELIVER, {}), (RETURN, {"reason": "x"}), (CANCEL, {})):
            assert codes(await shop.act(mutation, shipment["id"], by=caller, **more)) == [code]
        assert codes(await shop.gql("shipping", SHIPMENTS, {}, token=caller.token)) == [code]
    no_token = await shop.gql("shipping", SHIPMENTS, {})
    bad_token = await shop.gql("shipping", SHIPMENTS, {}, token=anonymous.token)
    assert codes(no_token) == codes(bad_token) == ["UNAUTHENTICATED"]
    assert [row["event_type"] for row in await shop.outbox()] == ["ShipmentCreated"]


async def test_the_orders_customer_and_staff_read_its_shipments_and_others_are_refused(
    shop: ShipmentsShop,
) -> None:
    customer, order = await shop.order([1])
    shipment = await shop.created(order["id"], [(1, 1)])
    stranger = shop.person("CUSTOMER")

    for reader in (customer, shop.partner, shop.admin):
        assert (await shop.act(SHIPMENT, shipment["id"], by=reader)).ok()["shipment"]["id"] == shipment["id"]
        seen = (await shop.fulfillment(order["id"], by=reader)).ok()["_entities"][0]
        assert [found["id"] for found in seen["shipments"]] == [shipment["id"]]
    assert codes(await shop.act(SHIPMENT, shipment["id"], by=stranger)) == ["FORBIDDEN"]
    assert "FORBIDDEN" in codes(await shop.fulfillment(order["id"], by=stranger))
    assert codes(await shop.gql("shipping", SHIPMENT, {"id": shipment["id"]})) == ["UNAUTHENTICATED"]
    # An order never shipped: nothing to hide, nothing to show.
    never = (await shop.fulfillment(str(uuid.uuid4()), by=stranger)).ok()["_entities"][0]
    assert (never["fulfillmentStatus"], never["shipments"]) == ("UNFULFILLED", [])


async def test_staff_list_shipments_newest_first_by_status_a_page_at_a_time(shop: ShipmentsShop) -> None:
    _, order = await shop.order([3])
    made = [await shop.created(order["id"], [(1, 1)]) for _ in range(3)]
    (await shop.ship(made[0]["id"])).ok()

    page = (await shop.gql("shipping", SHIPMENTS, {"first": 2}, token=shop.admin.token)).ok()["shipments"]
    rest = await shop.gql(
        "shipping", SHIPMENTS, {"first": 2, "after": page["pageInfo"]["endCursor"]}, token=shop.partner.token
    )
    pending = await shop.gql("shipping", SHIPMENTS, {"status": "PENDING"}, token=shop.partner.token)

    newest_first = [shipment["id"] for shipment in reversed(made)]
    assert [edge["node"]["id"] for edge in page["edges"]] == newest_first[:2] and page["pageInfo"][
        "hasNextPage"
    ]
    assert [edge["node"]["id"] for edge in rest.ok()["shipments"]["edges"]] == newest_first[2:]
    assert [edge["node"]["id"] for edge in pending.ok()["shipments"]["edges"]] == newest_first[:2]
    bad_cursor = await shop.gql("shipping", SHIPMENTS, {"after": "nope"}, token=shop.admin.token)
    assert codes(bad_cursor) == ["BAD_USER_INPUT"]


async def test_a_shipment_needs_a_known_confirmed_order(shop: ShipmentsShop) -> None:
    customer, order = await shop.order([1])
    (await shop.cancel_order(customer, order["id"])).ok()

    cancelled = await shop.create(order["id"], [(1, 1)])
    unknown = await shop.create(str(uuid.uuid4()), [(1, 1)])
    not_an_id = await shop.create("order-1", [(1, 1)])

    assert codes(cancelled) == ["ORDER_NOT_SHIPPABLE"]
    assert cancelled.errors[0]["extensions"]["status"] == "CANCELLED"
    assert codes(unknown) == ["NOT_FOUND"] and unknown.errors[0]["extensions"]["field"] == "input.orderId"
    assert codes(not_an_id) == ["BAD_USER_INPUT"]
    assert await shop.outbox() == []


async def test_carrier_and_tracking_are_bounded_single_lines_and_urls_are_http(shop: ShipmentsShop) -> None:
    _, order = await shop.order([1])
    shipment = await shop.created(order["id"], [(1, 1)])
    refusals = [
        ("DHL\nX", "1", None, "carrier"),
        ("DHL", "12\u202e34", None, "trackingNumber"),
        ("   ", "1", None, "carrier"),
        ("DHL", "1" * 101, None, "trackingNumber"),
        ("DHL", "1", "javascript:alert(1)", "trackingUrl"),
        ("DHL", "1", "/track/1", "trackingUrl"),
        ("DHL", "1", "https://example.com/" + "a" * 500, "trackingUrl"),
    ]

    for carrier, number, url, field in refusals:
        refused = await shop.ship(shipment["id"], carrier=carrier, number=number, url=url)
        assert codes(refused) == ["BAD_USER_INPUT"], (carrier, number, url)
        assert refused.errors[0]["extensions"]["field"] == field

    given = await shop.ship(shipment["id"], carrier="Courier", number="C-1", url="http://track.example/C-1")
    assert given.ok()["markShipmentShipped"]["trackingUrl"] == "http://track.example/C-1"
