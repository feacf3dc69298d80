"""What carts see: `Cart.availableShippingMethods` (through `_entities`, as the router asks with the fields
orders resolves for `@requires`), `ShippingMethod` as an entity, and the checkout's SERVICE-only
`shippingQuote` with its reasons."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from shipping_api import ARCHIVE_METHOD, CART_METHODS, QUOTE, ShippingApi, banded, cart, flat

from shared.testing import ServerThread

METHOD_ENTITY = """
query Methods($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on ShippingMethod { id name minDeliveryDays maxDeliveryDays zone { name } }
  }
}
"""


@pytest.fixture
async def eu(shipping: ShippingApi) -> dict[str, Any]:
    """Zone EU (DE, FR): Standard 4.90 EUR (free from 50.00), Express 12.90 EUR, Parcel by weight (EUR
    bands up to 5 kg), Standard 5.90 USD; and zone GB with its own method."""
    zone = await shipping.zone("EU", ["DE", "FR"])
    gb = await shipping.zone("GB", ["GB"])
    return {
        "zone": zone,
        "standard": await shipping.method(flat(zone["id"], 490, freeAbove=5000)),
        "express": await shipping.method(flat(zone["id"], 1290, name="Express")),
        "parcel": await shipping.method(banded(zone["id"], [(1000, 390), (5000, 690)])),
        "usd": await shipping.method(flat(zone["id"], 590, "USD", name="Standard (USD)")),
        "gb": await shipping.method(flat(gb["id"], 390, "GBP")),
    }


async def cart_methods(http: httpx.AsyncClient, server: ServerThread, *carts: dict[str, Any]) -> Any:
    response = await http.post(
        f"{server.url}/graphql", json={"query": CART_METHODS, "variables": {"representations": list(carts)}}
    )
    return response.json()


def offered(entity: dict[str, Any]) -> list[tuple[str, int]]:
    return [(rate["method"]["name"], rate["price"]["amount"]) for rate in entity["availableShippingMethods"]]


async def test_a_cart_sees_its_zones_methods_in_its_currency_cheapest_first(
    eu: dict[str, Any], http: httpx.AsyncClient, cart_server: ServerThread
) -> None:
    answer = await cart_methods(http, cart_server, cart("DE", 1000, weight=800))

    assert offered(answer["data"]["_entities"][0]) == [
        ("Parcel by weight", 390),
        ("Standard", 490),
        ("Express", 1290),
    ]


async def test_each_cart_of_one_call_gets_its_own_methods(
    eu: dict[str, Any], http: httpx.AsyncClient, cart_server: ServerThread
) -> None:
    answer = await cart_methods(
        http,
        cart_server,
        cart("fr", 5000, weight=6000, id="free-heavy"),
        cart("DE", 1000, "USD", id="usd"),
        cart("GB", 1000, "GBP", id="gb"),
        cart("US", 1000, "USD", id="no-zone"),
        cart(None, 1000, id="no-address"),
    )

    entities = answer["data"]["_entities"]
    assert [entity["id"] for entity in entities] == ["free-heavy", "usd", "gb", "no-zone", "no-address"]
    # 6 kg is past the parcel's bands; 50.00 reaches Standard's threshold.
    assert offered(entities[0]) == [("Standard", 0), ("Express", 1290)]
    assert offered(entities[1]) == [("Standard (USD)", 590)]
    assert offered(entities[2]) == [("Standard", 390)]
    assert offered(entities[3]) == offered(entities[4]) == []


async def test_an_archived_method_is_offered_to_no_cart(
    eu: dict[str, Any], shipping: ShippingApi, http: httpx.AsyncClient, cart_server: ServerThread
) -> None:
    await shipping.admin(ARCHIVE_METHOD, {"id": eu["express"]["id"]})

    answer = await cart_methods(http, cart_server, cart("DE", 1000, weight=800))

    assert "Express" not in [name for name, _ in offered(answer["data"]["_entities"][0])]


@pytest.mark.parametrize(
    "representation",
    [
        {"__typename": "Cart", "id": "c", "shippingCountry": "DE", "weightGrams": 1},  # no subtotal
        {**cart("DE", 1000), "weightGrams": -1},
        {**cart("DE", 1000), "subtotal": {"amount": "10", "currency": "EUR"}},
    ],
)
async def test_a_malformed_cart_representation_is_a_coded_error(
    http: httpx.AsyncClient, cart_server: ServerThread, representation: dict[str, Any]
) -> None:
    answer = await cart_methods(http, cart_server, representation)

    assert [error["extensions"]["code"] for error in answer["errors"]] == ["BAD_USER_INPUT"]


async def test_shipping_methods_resolve_as_entities_and_an_unknown_id_as_null(
    eu: dict[str, Any], gql: Any
) -> None:
    representations = [
        {"__typename": "ShippingMethod", "id": eu["express"]["id"]},
        {"__typename": "ShippingMethod", "id": str(uuid.uuid4())},
        {"__typename": "ShippingMethod", "id": "not-an-id"},
    ]

    answer = (await gql("shipping", METHOD_ENTITY, {"representations": representations})).ok()

    assert answer["_entities"] == [
        {
            "id": eu["express"]["id"],
            "name": "Express",
            "minDeliveryDays": 2,
            "maxDeliveryDays": 5,
            "zone": {"name": "EU"},
        },
        None,
        None,
    ]


def quote_of(
    method_id: str, country: str = "DE", subtotal: int = 1000, currency: str = "EUR", weight: int = 0
) -> dict:
    return {
        "methodId": method_id,
        "country": country,
        "subtotalAmount": subtotal,
        "currency": currency,
        "weightGrams": weight,
    }


@pytest.mark.parametrize("role", [None, "CUSTOMER", "ADMIN"])
async def test_only_a_service_gets_a_quote(
    eu: dict[str, Any], gql: Any, issuer: Any, role: str | None
) -> None:
    token = issuer.issue(str(uuid.uuid4()), [role]).token if role else None

    answer = await gql("shipping", QUOTE, quote_of(eu["standard"]["id"]), token=token)

    assert answer.error_codes == ["UNAUTHENTICATED" if role is None else "FORBIDDEN"]


async def test_a_quote_prices_an_available_method(eu: dict[str, Any], gql: Any, service_token: str) -> None:
    answer = await gql("shipping", QUOTE, quote_of(eu["parcel"]["id"], weight=1001), token=service_token)

    assert answer.ok()["shippingQuote"] == {
        "methodId": eu["parcel"]["id"],
        "name": "Parcel by weight",
        "priceAmount": 690,
        "currency": "EUR",
        "available": True,
        "reason": None,
    }


async def test_a_quote_is_free_above_the_threshold(eu: dict[str, Any], gql: Any, service_token: str) -> None:
    answer = await gql("shipping", QUOTE, quote_of(eu["standard"]["id"], subtotal=5000), token=service_token)

    assert answer.ok()["shippingQuote"]["priceAmount"] == 0


@pytest.mark.parametrize(
    ("method", "change", "reason"),
    [
        ("standard", {"country": "GB"}, "NOT_IN_ZONE"),
        ("standard", {"country": "ZZ"}, "NOT_IN_ZONE"),
        ("standard", {"currency": "USD"}, "CURRENCY"),
        ("standard", {"currency": "nonsense"}, "CURRENCY"),
        ("parcel", {"weightGrams": 5001}, "WEIGHT"),
        (None, {}, "UNKNOWN"),
    ],
)
async def test_a_method_a_cart_cannot_use_is_quoted_unavailable_with_the_reason(
    eu: dict[str, Any], gql: Any, service_token: str, method: str | None, change: dict[str, Any], reason: str
) -> None:
    method_id = eu[method]["id"] if method else str(uuid.uuid4())

    answer = await gql("shipping", QUOTE, {**quote_of(method_id), **change}, token=service_token)

    quote = answer.ok()["shippingQuote"]
    assert (quote["available"], quote["reason"], quote["priceAmount"]) == (False, reason, None)


async def test_an_archived_method_is_quoted_archived(
    eu: dict[str, Any], shipping: ShippingApi, gql: Any, service_token: str
) -> None:
    await shipping.admin(ARCHIVE_METHOD, {"id": eu["standard"]["id"]})

    answer = await gql("shipping", QUOTE, quote_of(eu["standard"]["id"]), token=service_token)

    assert answer.ok()["shippingQuote"]["reason"] == "ARCHIVED"


async def test_a_quote_for_a_negative_weight_is_bad_input(
    eu: dict[str, Any], gql: Any, service_token: str
) -> None:
    answer = await gql("shipping", QUOTE, quote_of(eu["standard"]["id"], weight=-1), token=service_token)

    assert answer.error_codes == ["BAD_USER_INPUT"]
