"""The shipping API as the tests use it: its admin operations over HTTP, answering the data or failing."""

from __future__ import annotations

from typing import Any

ZONE_FIELDS = "id name countries"
METHOD_FIELDS = (
    "id name description carrier minDeliveryDays maxDeliveryDays currency active rateKind "
    "flatPrice { amount currency } weightBands { maxGrams price { amount currency } } "
    "freeAbove { amount currency } zone { id name }"
)
CREATE_ZONE = f"""
mutation Zone($name: String!, $countries: [String!]!) {{
  createShippingZone(name: $name, countries: $countries) {{ {ZONE_FIELDS} }}
}}
"""
UPDATE_ZONE = f"""
mutation Zone($id: ID!, $name: String, $countries: [String!]) {{
  updateShippingZone(id: $id, name: $name, countries: $countries) {{ {ZONE_FIELDS} }}
}}
"""
DELETE_ZONE = "mutation Zone($id: ID!) { deleteShippingZone(id: $id) }"
ZONES = f"{{ shippingZones {{ {ZONE_FIELDS} methods {{ id name active }} }} }}"
CREATE_METHOD = f"""
mutation Method($input: CreateShippingMethodInput!) {{
  createShippingMethod(input: $input) {{ {METHOD_FIELDS} }}
}}
"""
UPDATE_METHOD = f"""
mutation Method($id: ID!, $input: UpdateShippingMethodInput!) {{
  updateShippingMethod(id: $id, input: $input) {{ {METHOD_FIELDS} }}
}}
"""
ARCHIVE_METHOD = f"mutation Method($id: ID!) {{ archiveShippingMethod(id: $id) {{ {METHOD_FIELDS} }} }}"
QUOTE = """
query Quote(
  $methodId: ID!, $country: String!, $subtotalAmount: Int!, $currency: String!, $weightGrams: Int!
) {
  shippingQuote(methodId: $methodId, country: $country, subtotalAmount: $subtotalAmount, currency: $currency,
                weightGrams: $weightGrams) { methodId name priceAmount currency available reason }
}
"""
CART_METHODS = """
query Carts($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Cart { id availableShippingMethods { method { id name } price { amount currency } } }
  }
}
"""


def flat(zone_id: str, amount: int = 490, currency: str = "EUR", **more: Any) -> dict[str, Any]:
    """A FLAT method's input."""
    return {
        "zoneId": zone_id,
        "name": "Standard",
        "minDeliveryDays": 2,
        "maxDeliveryDays": 5,
        "currency": currency,
        "rateKind": "FLAT",
        "flatPrice": amount,
        **more,
    }


def banded(zone_id: str, bands: list[tuple[int, int]], currency: str = "EUR", **more: Any) -> dict[str, Any]:
    """A WEIGHT_BANDS method's input: (maxGrams, price) pairs."""
    return {
        "zoneId": zone_id,
        "name": "Parcel by weight",
        "minDeliveryDays": 2,
        "maxDeliveryDays": 4,
        "currency": currency,
        "rateKind": "WEIGHT_BANDS",
        "weightBands": [{"maxGrams": grams, "price": price} for grams, price in bands],
        **more,
    }


def cart(country: str | None, amount: int, currency: str = "EUR", weight: int = 0, id: str = "c1") -> dict:
    """A `Cart` representation as the router sends it for `@requires`."""
    return {
        "__typename": "Cart",
        "id": id,
        "shippingCountry": country,
        "subtotal": {"amount": amount, "currency": currency},
        "weightGrams": weight,
    }


class ShippingApi:
    def __init__(self, gql: Any, admin_token: str) -> None:
        self.gql = gql
        self.admin_token = admin_token

    async def admin(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        return (await self.gql("shipping", query, variables or {}, token=self.admin_token)).ok()

    async def zone(self, name: str = "EU", countries: list[str] | None = None) -> dict[str, Any]:
        variables = {"name": name, "countries": countries or ["DE", "FR"]}
        return (await self.admin(CREATE_ZONE, variables))["createShippingZone"]

    async def method(self, input: dict[str, Any]) -> dict[str, Any]:
        return (await self.admin(CREATE_METHOD, {"input": input}))["createShippingMethod"]
