"""Shipping methods: admin CRUD, who may call it, and validation of rates, days and currency."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from shipping_api import ARCHIVE_METHOD, CREATE_METHOD, UPDATE_METHOD, ZONES, ShippingApi, banded, flat

UNKNOWN_ID = "00000000-0000-4000-8000-000000000404"


@pytest.fixture
async def zone_id(shipping: ShippingApi) -> str:
    return (await shipping.zone("EU", ["DE", "FR"]))["id"]


async def test_an_admin_creates_a_flat_method_with_a_free_threshold(
    shipping: ShippingApi, zone_id: str
) -> None:
    method = await shipping.method(
        flat(zone_id, 490, "eur", freeAbove=5000, carrier=" DHL ", description="Tracked")
    )

    assert method["rateKind"] == "FLAT"
    assert method["flatPrice"] == {"amount": 490, "currency": "EUR"}
    assert method["freeAbove"] == {"amount": 5000, "currency": "EUR"}
    assert (method["carrier"], method["description"], method["active"]) == ("DHL", "Tracked", True)
    assert method["weightBands"] == []
    assert method["zone"] == {"id": zone_id, "name": "EU"}


async def test_an_admin_creates_a_method_priced_by_weight_bands(shipping: ShippingApi, zone_id: str) -> None:
    method = await shipping.method(banded(zone_id, [(1000, 390), (5000, 690)]))

    assert method["flatPrice"] is None
    assert [(b["maxGrams"], b["price"]["amount"]) for b in method["weightBands"]] == [
        (1000, 390),
        (5000, 690),
    ]


@pytest.mark.parametrize("role", [None, "CUSTOMER"])
async def test_only_an_admin_creates_changes_or_archives_methods(
    gql: Any, issuer: Any, shipping: ShippingApi, zone_id: str, role: str | None
) -> None:
    method = await shipping.method(flat(zone_id))
    token = issuer.issue(str(uuid.uuid4()), [role]).token if role else None
    expected = ["UNAUTHENTICATED" if role is None else "FORBIDDEN"]

    created = await gql("shipping", CREATE_METHOD, {"input": flat(zone_id)}, token=token)
    updated = await gql("shipping", UPDATE_METHOD, {"id": method["id"], "input": {"name": "X"}}, token=token)
    archived = await gql("shipping", ARCHIVE_METHOD, {"id": method["id"]}, token=token)

    assert created.error_codes == updated.error_codes == archived.error_codes == expected
    listed = (await shipping.admin(ZONES))["shippingZones"][0]["methods"]
    assert [(m["name"], m["active"]) for m in listed] == [("Standard", True)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"flatPrice": -1}, "flatPrice"),
        ({"flatPrice": None}, "flatPrice"),
        ({"freeAbove": -1}, "freeAbove"),
        ({"currency": "EURO"}, "currency"),
        ({"name": "  "}, "name"),
        ({"minDeliveryDays": -1}, "minDeliveryDays"),
        ({"minDeliveryDays": 6, "maxDeliveryDays": 5}, "maxDeliveryDays"),
        ({"weightBands": [{"maxGrams": 1000, "price": 1}]}, "weightBands"),
    ],
)
async def test_a_flat_method_with_bad_fields_is_refused_naming_the_field(
    gql: Any, admin_token: str, zone_id: str, change: dict[str, Any], field: str
) -> None:
    answer = await gql("shipping", CREATE_METHOD, {"input": {**flat(zone_id), **change}}, token=admin_token)

    assert answer.error_codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == field


@pytest.mark.parametrize(
    "bands",
    [
        [],
        [(1000, 390), (1000, 490)],  # not strictly increasing
        [(5000, 690), (1000, 390)],  # decreasing
        [(0, 390)],
        [(1000, -1)],
        [(grams, 1) for grams in range(1, 22)],  # 21 bands
    ],
)
async def test_weight_bands_must_be_strictly_increasing_positive_and_priced(
    gql: Any, admin_token: str, zone_id: str, bands: list[tuple[int, int]]
) -> None:
    answer = await gql("shipping", CREATE_METHOD, {"input": banded(zone_id, bands)}, token=admin_token)

    assert answer.error_codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == "weightBands"


async def test_a_banded_method_refuses_a_flat_price(gql: Any, admin_token: str, zone_id: str) -> None:
    answer = await gql(
        "shipping", CREATE_METHOD, {"input": banded(zone_id, [(1000, 1)], flatPrice=1)}, token=admin_token
    )

    assert answer.error_codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == "flatPrice"


@pytest.mark.parametrize(
    ("zone", "code"), [("nope", "BAD_USER_INPUT"), ("00000000-0000-4000-8000-000000000404", "NOT_FOUND")]
)
async def test_a_method_of_an_unknown_zone_is_refused(
    gql: Any, admin_token: str, zone: str, code: str
) -> None:
    answer = await gql("shipping", CREATE_METHOD, {"input": flat(zone)}, token=admin_token)

    assert answer.error_codes == [code]
    assert answer.errors[0]["extensions"]["field"] == "zoneId"


async def test_an_update_changes_only_the_given_fields_and_a_new_kind_drops_the_old_price(
    shipping: ShippingApi, zone_id: str
) -> None:
    method = await shipping.method(flat(zone_id, 490, freeAbove=5000))

    renamed = (await shipping.admin(UPDATE_METHOD, {"id": method["id"], "input": {"name": "Economy"}}))[
        "updateShippingMethod"
    ]
    rebanded = (
        await shipping.admin(
            UPDATE_METHOD,
            {
                "id": method["id"],
                "input": {"rateKind": "WEIGHT_BANDS", "weightBands": [{"maxGrams": 2000, "price": 590}]},
            },
        )
    )["updateShippingMethod"]
    unthresholded = (await shipping.admin(UPDATE_METHOD, {"id": method["id"], "input": {"freeAbove": None}}))[
        "updateShippingMethod"
    ]

    assert (renamed["name"], renamed["flatPrice"]["amount"], renamed["freeAbove"]["amount"]) == (
        "Economy",
        490,
        5000,
    )
    assert (rebanded["rateKind"], rebanded["flatPrice"], rebanded["weightBands"][0]["maxGrams"]) == (
        "WEIGHT_BANDS",
        None,
        2000,
    )
    assert (unthresholded["freeAbove"], unthresholded["name"]) == (None, "Economy")


async def test_switching_to_weight_bands_without_bands_is_refused(
    shipping: ShippingApi, gql: Any, admin_token: str, zone_id: str
) -> None:
    method = await shipping.method(flat(zone_id))

    answer = await gql(
        "shipping",
        UPDATE_METHOD,
        {"id": method["id"], "input": {"rateKind": "WEIGHT_BANDS"}},
        token=admin_token,
    )

    assert answer.error_codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == "weightBands"


async def test_an_archived_method_stays_listed_inactive_and_can_come_back(
    shipping: ShippingApi, zone_id: str
) -> None:
    method = await shipping.method(flat(zone_id))

    archived = (await shipping.admin(ARCHIVE_METHOD, {"id": method["id"]}))["archiveShippingMethod"]
    revived = (await shipping.admin(UPDATE_METHOD, {"id": method["id"], "input": {"active": True}}))[
        "updateShippingMethod"
    ]

    assert (archived["active"], revived["active"]) == (False, True)


async def test_an_unknown_method_is_not_found(gql: Any, admin_token: str) -> None:
    answer = await gql("shipping", ARCHIVE_METHOD, {"id": str(uuid.uuid4())}, token=admin_token)

    assert answer.error_codes == ["NOT_FOUND"]
