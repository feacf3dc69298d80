"""Shipping zones: admin CRUD, who may call it, and the rules of their countries."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from shipping_api import ARCHIVE_METHOD, CREATE_ZONE, DELETE_ZONE, UPDATE_ZONE, ZONES, ShippingApi, flat

UNKNOWN_ID = "00000000-0000-4000-8000-000000000404"


async def test_an_admin_creates_a_zone_with_its_countries_cleaned_and_sorted(shipping: ShippingApi) -> None:
    zone = await shipping.zone("EU", [" fr", "DE", "de"])

    assert (zone["name"], zone["countries"]) == ("EU", ["DE", "FR"])
    listed = (await shipping.admin(ZONES))["shippingZones"]
    assert [(z["id"], z["countries"], z["methods"]) for z in listed] == [(zone["id"], ["DE", "FR"], [])]


@pytest.mark.parametrize("role", [None, "CUSTOMER", "PARTNER"])
async def test_only_an_admin_reads_or_changes_zones(gql: Any, issuer: Any, role: str | None) -> None:
    token = issuer.issue(str(uuid.uuid4()), [role]).token if role else None

    created = await gql("shipping", CREATE_ZONE, {"name": "EU", "countries": ["DE"]}, token=token)
    listed = await gql("shipping", ZONES, token=token)

    assert created.error_codes == [("UNAUTHENTICATED" if role is None else "FORBIDDEN")]
    assert listed.error_codes == [("UNAUTHENTICATED" if role is None else "FORBIDDEN")]


@pytest.mark.parametrize("countries", [["XX"], ["DEU"], [""], [], ["de", "Germany"]])
async def test_a_zone_needs_real_iso_alpha_2_countries(
    gql: Any, admin_token: str, countries: list[str]
) -> None:
    answer = await gql("shipping", CREATE_ZONE, {"name": "EU", "countries": countries}, token=admin_token)

    assert answer.error_codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == "countries"


async def test_a_country_belongs_to_at_most_one_zone(
    shipping: ShippingApi, gql: Any, admin_token: str
) -> None:
    eu = await shipping.zone("EU", ["DE", "FR"])
    other = await shipping.zone("Other", ["GB"])

    created = await gql(
        "shipping", CREATE_ZONE, {"name": "DACH", "countries": ["AT", "DE"]}, token=admin_token
    )
    moved = await gql(
        "shipping", UPDATE_ZONE, {"id": other["id"], "countries": ["GB", "FR"]}, token=admin_token
    )

    for answer in (created, moved):
        assert answer.error_codes == ["CONFLICT"]
        assert answer.errors[0]["extensions"]["reason"] == "COUNTRY_IN_OTHER_ZONE"
        assert answer.errors[0]["extensions"]["zoneId"] == eu["id"]


async def test_zone_names_are_unique_whatever_their_case(
    shipping: ShippingApi, gql: Any, admin_token: str
) -> None:
    await shipping.zone("EU", ["DE"])

    answer = await gql("shipping", CREATE_ZONE, {"name": "eu", "countries": ["GB"]}, token=admin_token)

    assert answer.error_codes == ["CONFLICT"]
    assert answer.errors[0]["extensions"]["field"] == "name"


async def test_updating_a_zone_keeps_replaces_and_frees_countries(shipping: ShippingApi) -> None:
    eu = await shipping.zone("EU", ["DE", "FR"])

    updated = (
        await shipping.admin(UPDATE_ZONE, {"id": eu["id"], "name": "Europe", "countries": ["FR", "IT"]})
    )["updateShippingZone"]
    again = await shipping.zone("Germany", ["DE"])  # DE was freed by the update

    assert (updated["name"], updated["countries"]) == ("Europe", ["FR", "IT"])
    assert again["countries"] == ["DE"]


async def test_a_zone_with_an_active_method_cannot_be_deleted_until_it_is_archived(
    shipping: ShippingApi, gql: Any, admin_token: str
) -> None:
    zone = await shipping.zone("EU", ["DE"])
    method = await shipping.method(flat(zone["id"]))

    refused = await gql("shipping", DELETE_ZONE, {"id": zone["id"]}, token=admin_token)
    await shipping.admin("mutation($id: ID!) { archiveShippingMethod(id: $id) { id } }", {"id": method["id"]})
    deleted = await shipping.admin(DELETE_ZONE, {"id": zone["id"]})

    assert refused.error_codes == ["CONFLICT"]
    assert refused.errors[0]["extensions"]["reason"] == "ZONE_HAS_ACTIVE_METHODS"
    assert deleted == {"deleteShippingZone": zone["id"]}
    assert (await shipping.admin(ZONES))["shippingZones"] == []
    assert (await shipping.zone("Again", ["DE"]))["countries"] == ["DE"]


@pytest.mark.parametrize(
    ("zone_id", "code"), [("nope", "BAD_USER_INPUT"), ("00000000-0000-4000-8000-000000000404", "NOT_FOUND")]
)
async def test_an_unknown_zone_id_is_coded(gql: Any, admin_token: str, zone_id: str, code: str) -> None:
    updated = await gql("shipping", UPDATE_ZONE, {"id": zone_id, "name": "X"}, token=admin_token)
    deleted = await gql("shipping", DELETE_ZONE, {"id": zone_id}, token=admin_token)

    assert updated.error_codes == deleted.error_codes == [code]


async def test_two_zones_racing_for_one_country_leave_it_in_exactly_one(
    shipping: ShippingApi, gql: Any, admin_token: str
) -> None:
    answers = await asyncio.gather(
        *(
            gql(
                "shipping",
                CREATE_ZONE,
                {"name": f"Zone {n}", "countries": ["NL", f"{code}"]},
                token=admin_token,
            )
            for n, code in enumerate(("BE", "LU", "AT", "CH", "DK", "SE"))
        )
    )

    assert sorted(code for answer in answers for code in answer.error_codes) == ["CONFLICT"] * 5
    zones = (await shipping.admin(ZONES))["shippingZones"]
    assert sum("NL" in zone["countries"] for zone in zones) == 1


async def test_anyone_lists_the_countries_an_active_method_ships_to(shipping: ShippingApi, gql: Any) -> None:
    eu = await shipping.zone("EU", ["FR", "DE"])
    await shipping.zone("No method yet", ["CH"])
    archived_zone = await shipping.zone("Archived", ["GB"])
    await shipping.method(flat(eu["id"]))
    await shipping.method(flat(eu["id"], amount=990))
    archived = await shipping.method(flat(archived_zone["id"]))
    await shipping.admin(ARCHIVE_METHOD, {"id": archived["id"]})

    # No token: a storefront's address form asks before anyone signs in.
    answer = await gql("shipping", "{ shippingCountries }")

    assert answer.ok() == {"shippingCountries": ["DE", "FR"]}
