"""The demo shipping of `myshop up`: zones EU, US and GB with methods a cart of each demo currency can use."""

from __future__ import annotations

from typing import Any

import httpx
from shipping_api import ZONES, ShippingApi, cart
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from test_shipping_quotes import cart_methods, offered

from myshop.demo import seed_of
from shared.testing import ServerThread


async def seed_twice(engine: AsyncEngine) -> list[list[str]]:
    seed = seed_of("shipping")
    assert seed is not None
    runs = []
    for _ in range(2):
        async with async_sessionmaker(engine)() as session, session.begin():
            runs.append(await seed(session))
    return runs


async def test_the_demo_zones_are_made_once(
    api: Any, engines: dict[str, AsyncEngine], shipping: ShippingApi
) -> None:
    first, second = await seed_twice(engines["shipping"])

    zones = (await shipping.admin(ZONES))["shippingZones"]
    assert {zone["name"]: zone["countries"] for zone in zones} == {
        "EU": ["AT", "BE", "DE", "ES", "FR", "IT", "NL"],
        "GB": ["GB"],
        "US": ["US"],
    }
    assert first and second == []


async def test_demo_carts_see_free_standard_shipping_from_50_in_their_currency(
    api: Any, engines: dict[str, AsyncEngine], http: httpx.AsyncClient, cart_server: ServerThread
) -> None:
    await seed_twice(engines["shipping"])

    answer = await cart_methods(
        http,
        cart_server,
        cart("DE", 5000, "EUR", weight=2000),
        cart("DE", 1000, "USD"),
        cart("US", 4999, "USD", weight=40_000),
        cart("GB", 5000, "GBP", weight=500),
    )

    de_eur, de_usd, us, gb = (offered(entity) for entity in answer["data"]["_entities"])
    assert de_eur == [("Standard", 0), ("Parcel by weight", 690), ("Express", 1290)]
    assert de_usd == [("Standard (USD)", 490), ("Express (USD)", 1290)]
    assert us == [("Standard", 490), ("Express", 1290)]  # 40 kg: past the parcel's bands
    assert gb == [("Standard", 0), ("Parcel by weight", 390), ("Express", 1290)]
