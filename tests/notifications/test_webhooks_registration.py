"""Registering webhooks: who may (PARTNER, ADMIN), what each sees and acts on (its own; an ADMIN all), the
bounds (URL, description, events from the allow-list, 10 per owner) and the target check of production mode
(private, loopback and reserved addresses refused at registration)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from eventually import eventually
from webhook_receiver import CREATE, DELETE, ENABLE, REPLAY_ALL, ROTATE, WEBHOOK, WEBHOOKS, WebhookApi

URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
def hooks(gql: Any) -> WebhookApi:
    return WebhookApi(gql)


def token(issuer: Any, *roles: str) -> str:
    return issuer.issue(str(uuid.uuid4()), list(roles)).token


async def test_a_partner_registers_a_webhook_and_gets_its_secret_once(hooks: WebhookApi, issuer: Any) -> None:
    partner = token(issuer, "PARTNER")

    created = (
        await hooks.create(
            partner, URL, ["OrderConfirmed", "ShipmentShipped", "OrderConfirmed"], description="WMS"
        )
    ).ok()["createWebhook"]

    webhook = created["webhook"]
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert (webhook["url"], webhook["events"], webhook["description"], webhook["status"]) == (
        URL,
        ["OrderConfirmed", "ShipmentShipped"],
        "WMS",
        "ACTIVE",
    )
    # The secret is not readable afterwards: no field of the webhook has it.
    listed = (await hooks.call(partner, WEBHOOKS)).ok()["webhooks"]["nodes"]
    assert listed == [webhook] and created["secret"] not in str(listed)


async def test_a_customer_cannot_register_or_list_webhooks(hooks: WebhookApi, issuer: Any) -> None:
    customer = token(issuer, "CUSTOMER")

    created = await hooks.create(customer, URL)
    listed = await hooks.call(customer, WEBHOOKS)

    assert created.error_codes == ["FORBIDDEN"]
    assert listed.error_codes == ["FORBIDDEN"]


async def test_a_partner_sees_and_acts_on_its_own_webhooks_only_and_an_admin_on_all(
    hooks: WebhookApi, issuer: Any
) -> None:
    owner, other, admin = token(issuer, "PARTNER"), token(issuer, "PARTNER"), token(issuer, "ADMIN")
    webhook_id, _ = await hooks.created(owner, URL)

    # Another partner: not listed, not found, cannot delete, rotate, enable, replay or read deliveries.
    assert (await hooks.call(other, WEBHOOKS)).ok()["webhooks"]["nodes"] == []
    assert (await hooks.call(other, WEBHOOK, id=webhook_id)).ok()["webhook"] is None
    assert (await hooks.call(other, DELETE, id=webhook_id)).ok()["deleteWebhook"] is False
    for operation in (ROTATE, ENABLE):
        assert (await hooks.call(other, operation, id=webhook_id)).error_codes == ["NOT_FOUND"]
    assert (await hooks.call(other, REPLAY_ALL, id=webhook_id)).error_codes == ["NOT_FOUND"]

    # An admin sees everyone's and may act on it.
    assert [w["id"] for w in (await hooks.call(admin, WEBHOOKS)).ok()["webhooks"]["nodes"]] == [webhook_id]
    assert (await hooks.call(admin, DELETE, id=webhook_id)).ok()["deleteWebhook"] is True
    assert (await hooks.call(owner, WEBHOOK, id=webhook_id)).ok()["webhook"] is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hooks",
        "javascript:alert(1)",
        "http://",
        "/relative/path",
        "http://user:pass@example.com/hooks",
        "http://example.com/hooks#frag",
        "http://example.com/ho oks",
        "http://example.com/\nhooks",
        "https://example.com/" + "a" * 2040,
    ],
)
async def test_a_url_that_is_not_an_http_target_is_refused_with_its_field(
    hooks: WebhookApi, issuer: Any, url: str
) -> None:
    answer = await hooks.create(token(issuer, "PARTNER"), url)

    assert answer.error_codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == "input.url"


@pytest.mark.parametrize(
    ("events", "description"),
    [
        (["UserRegistered"], None),  # personal data: not for partners
        (["CartAbandoned"], None),
        (["OrderConfirmed", "NoSuchEvent"], None),
        ([], None),
        (["OrderConfirmed"], "x" * 501),
        (["OrderConfirmed"], "bell\x07"),
    ],
)
async def test_events_outside_the_allow_list_and_oversized_descriptions_are_refused(
    hooks: WebhookApi, issuer: Any, events: list[str], description: str | None
) -> None:
    answer = await hooks.create(token(issuer, "PARTNER"), URL, events, description=description)

    assert answer.error_codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == (
        "input.events" if description is None else "input.description"
    )


async def test_star_subscribes_to_every_allowed_event(hooks: WebhookApi, issuer: Any) -> None:
    created = (await hooks.create(token(issuer, "PARTNER"), URL, ["OrderPlaced", "*"])).ok()

    assert created["createWebhook"]["webhook"]["events"] == ["*"]


async def test_an_owner_registers_at_most_ten_webhooks(hooks: WebhookApi, issuer: Any) -> None:
    partner = token(issuer, "PARTNER")
    for n in range(10):
        (await hooks.create(partner, f"{URL}/{n}")).ok()

    eleventh = await hooks.create(partner, f"{URL}/10")

    assert eleventh.error_codes == ["WEBHOOK_LIMIT_REACHED"]
    # Another owner is not limited by the first one's.
    (await hooks.create(token(issuer, "PARTNER"), URL)).ok()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://224.0.0.1/hooks",
        "http://0.0.0.0/hooks",
        "http://100.64.0.1/hooks",
        "http://no-such-host.invalid/hooks",
    ],
)
async def test_production_refuses_targets_that_are_not_public_at_registration(
    api: Any, hooks: WebhookApi, issuer: Any, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setattr(api.settings["notifications"], "environment", "production")

    answer = await hooks.create(token(issuer, "PARTNER"), url)

    assert answer.error_codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == "input.url"


async def test_production_accepts_a_public_address_and_development_a_loopback_one(
    api: Any, hooks: WebhookApi, issuer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner = token(issuer, "PARTNER")
    (await hooks.create(partner, "http://127.0.0.1:8080/hooks")).ok()  # the tests run as development

    monkeypatch.setattr(api.settings["notifications"], "environment", "production")

    (await hooks.create(partner, "https://93.184.215.14/hooks")).ok()


async def test_a_deleted_account_loses_its_webhooks_and_another_keeps_its_own(
    hooks: WebhookApi, issuer: Any, shop: Any
) -> None:
    # Given two partners' webhooks
    gone, kept = str(uuid.uuid4()), str(uuid.uuid4())
    await hooks.created(issuer.issue(gone, ["PARTNER"]).token, URL)
    await hooks.created(issuer.issue(kept, ["PARTNER"]).token, URL)

    # When users deletes the first account
    await shop.publish("users", "UserDeleted", userId=gone, at="2026-12-06T12:00:00+00:00")

    # Then its webhook is gone (the URL and description are its data), the other's stays
    await eventually(
        lambda: shop.rows("SELECT owner_id FROM webhook_endpoints"),
        lambda rows: [str(row["owner_id"]) for row in rows] == [kept],
        what="the deleted account's webhook removed",
    )


async def test_through_the_router_a_partner_registers_and_lists_its_webhooks_and_a_customer_cannot(
    api: Any, issuer: Any, myshop_router: Any
) -> None:
    partner_id = str(uuid.uuid4())
    partner, customer = issuer.issue(partner_id, ["PARTNER"]).token, token(issuer, "CUSTOMER")
    async with httpx.AsyncClient(base_url=myshop_router.url, timeout=30) as client:

        async def call(query: str, variables: dict[str, Any], bearer: str) -> dict[str, Any]:
            answer = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"authorization": f"Bearer {bearer}"},
            )
            return answer.json()

        created = await call(CREATE, {"input": {"url": URL, "events": ["ShipmentShipped"]}}, partner)
        listed = await call(WEBHOOKS, {}, partner)
        refused = await call(CREATE, {"input": {"url": URL, "events": ["*"]}}, customer)

    assert "errors" not in created, created
    webhook = created["data"]["createWebhook"]["webhook"]
    assert (webhook["events"], webhook["owner"]) == (["ShipmentShipped"], {"id": partner_id})
    assert listed["data"]["webhooks"]["nodes"] == [webhook]
    assert refused.get("data") is None and refused["errors"]
