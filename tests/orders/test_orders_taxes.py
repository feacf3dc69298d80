"""Tax rates over HTTP: ADMIN only, validated, upserted, deleted; `tax_table` feeds pricing.price."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from myshop.demo import pricing as pricing_demo
from subgraphs.orders import promotion_repository
from subgraphs.orders.pricing import PricedLine, TaxRate, price
from subgraphs.orders.taxes import tax_table

RATES = "{ taxRates { country taxClass rate name } }"
SET = """
mutation S($country: String!, $taxClass: String!, $rate: Int!, $name: String) {
  setTaxRate(country: $country, taxClass: $taxClass, rate: $rate, name: $name) { country taxClass rate name }
}"""
DELETE = """
mutation D($country: String!, $taxClass: String!) { deleteTaxRate(country: $country, taxClass: $taxClass) }"""


@pytest.fixture
def admin(issuer: Any) -> str:
    return issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token


async def set_rate(
    gql: Any, token: str, country: str, tax_class: str, rate: int, name: str | None = None
) -> Any:
    return await gql(
        "orders", SET, {"country": country, "taxClass": tax_class, "rate": rate, "name": name}, token=token
    )


async def test_an_admin_sets_rates_normalized_and_lists_them_by_country_then_class(gql, admin):
    (await set_rate(gql, admin, "de", " Standard ", 2000, "VAT 20%")).ok()
    (await set_rate(gql, admin, "DE", "reduced", 700)).ok()
    (await set_rate(gql, admin, "AT", "standard", 2000)).ok()

    rates = (await gql("orders", RATES, token=admin)).ok()["taxRates"]

    assert rates == [
        {"country": "AT", "taxClass": "standard", "rate": 2000, "name": ""},
        {"country": "DE", "taxClass": "reduced", "rate": 700, "name": ""},
        {"country": "DE", "taxClass": "standard", "rate": 2000, "name": "VAT 20%"},
    ]


async def test_setting_a_rate_again_replaces_it(gql, admin):
    (await set_rate(gql, admin, "FR", "standard", 2000)).ok()

    replaced = (await set_rate(gql, admin, "FR", "standard", 1960, "TVA")).ok()["setTaxRate"]

    assert replaced == {"country": "FR", "taxClass": "standard", "rate": 1960, "name": "TVA"}
    assert len((await gql("orders", RATES, token=admin)).ok()["taxRates"]) == 1


async def test_deleting_a_rate_zero_rates_the_class_and_a_second_delete_is_not_found(gql, admin):
    (await set_rate(gql, admin, "NL", "reduced", 900)).ok()

    assert (await gql("orders", DELETE, {"country": "NL", "taxClass": "reduced"}, token=admin)).ok()
    again = await gql("orders", DELETE, {"country": "NL", "taxClass": "reduced"}, token=admin)

    assert again.error_codes == ["NOT_FOUND"]
    assert (await gql("orders", RATES, token=admin)).ok()["taxRates"] == []


@pytest.mark.parametrize(
    ("country", "tax_class", "rate", "field"),
    [
        ("DEU", "standard", 2000, "country"),
        ("D1", "standard", 2000, "country"),
        ("DE", "", 2000, "taxClass"),
        ("DE", "two words", 2000, "taxClass"),
        ("DE", "standard", -1, "rate"),
        ("DE", "standard", 10_001, "rate"),
    ],
)
async def test_a_bad_rate_is_refused_with_its_field(gql, admin, country, tax_class, rate, field):
    resp = await set_rate(gql, admin, country, tax_class, rate)

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == field


@pytest.mark.parametrize(
    ("role", "code"), [("CUSTOMER", "FORBIDDEN"), ("PARTNER", "FORBIDDEN"), (None, "UNAUTHENTICATED")]
)
async def test_only_admins_read_or_change_tax_rates(gql, issuer, role, code):
    token = issuer.issue(str(uuid.uuid4()), [role]).token if role else None

    assert (await gql("orders", RATES, token=token)).error_codes == [code]
    assert (await set_rate(gql, token, "DE", "standard", 0)).error_codes == [code]  # type: ignore[arg-type]
    assert (await gql("orders", DELETE, {"country": "DE", "taxClass": "x"}, token=token)).error_codes == [
        code
    ]


async def test_the_tax_table_of_a_country_prices_a_cart(gql, admin, engines: dict[str, AsyncEngine]):
    (await set_rate(gql, admin, "DE", "standard", 2000, "VAT")).ok()
    (await set_rate(gql, admin, "DE", "reduced", 700)).ok()
    (await set_rate(gql, admin, "FR", "standard", 2000)).ok()
    sessions = async_sessionmaker(engines["orders"], expire_on_commit=False)

    async with sessions() as session:
        table = await tax_table(session, "DE")
        nowhere = await tax_table(session, None)

    assert table == {("DE", "standard"): TaxRate(2000, "VAT"), ("DE", "reduced"): TaxRate(700, "")}
    assert nowhere == {}
    lines = [PricedLine("1", "p", None, "reduced", 1000, 1), PricedLine("2", "q", None, "standard", 1000, 1)]
    breakdown = price(
        lines,
        currency="EUR",
        country="DE",
        shipping_amount=0,
        rates=table,
        prices_include_tax=False,
        discounts=(),
    )
    assert breakdown.tax_total == 70 + 200


async def test_the_demo_seeds_rates_and_the_readme_voucher_once(api, engines: dict[str, AsyncEngine]):
    sessions = async_sessionmaker(engines["orders"], expire_on_commit=False)

    async with sessions() as session, session.begin():
        first = await pricing_demo.seed(session)
    async with sessions() as session, session.begin():
        second = await pricing_demo.seed(session)
        table = await tax_table(session, "DE")
        voucher = await promotion_repository.by_code(session, "welcome10")

    assert "14 demo tax rates" in first[0] and "WELCOME10" in first[0]
    assert second == ["orders: 0 demo tax rates, promotions added: none"]
    assert table == {("DE", "standard"): TaxRate(2000, "VAT 20%"), ("DE", "reduced"): TaxRate(700, "VAT 7%")}
    assert voucher is not None and voucher.per_customer_limit == 1
