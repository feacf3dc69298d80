"""Watching products: watch and unwatch are idempotent; watchers get one mail per price drop (none for a rise
or another currency) and a mail when the product is back in stock (once within the cooldown)."""

from __future__ import annotations

import uuid

from mail_catcher import Received
from notifications_shop import WATCHED, Shop


def price_drop(mail: Received) -> bool:
    return mail.subject.startswith("Price drop")


def back_in_stock(mail: Received) -> bool:
    return mail.subject.startswith("Back in stock")


async def test_watchers_get_exactly_one_mail_per_price_drop(shop: Shop) -> None:
    # Given two customers watching a USD 25.00 product and one who does not
    product_id = await shop.product(name="Enamel Kettle", price=2500)
    ann, bo, cy = await shop.customer(name="Ann"), await shop.customer(name="Bo"), await shop.customer()
    for watcher in (ann, bo):
        (await shop.watch(watcher, product_id)).ok()

    # When its price drops to USD 20.00, and the event is delivered a second time
    await shop.set_price(product_id, 2000)
    for watcher in (ann, bo):
        assert await shop.mail.wait_for(watcher.email, price_drop)
    _, fields = await shop.event("products", "ProductUpdated", productId=product_id, change="updated")
    await shop.deliver_again("products", fields)
    await shop.settled()

    # Then each watcher has exactly one price-drop mail, and the customer not watching none
    for watcher in (ann, bo):
        mails = [mail for mail in shop.mail.to(watcher.email) if price_drop(mail)]
        assert len(mails) == 1
        assert mails[0].subject == "Price drop: Enamel Kettle now USD 20.00"
        assert f"Hi {watcher.name}," in mails[0].part("text/plain")
        assert "(was USD 25.00)" in mails[0].part("text/plain")
    assert [mail for mail in shop.mail.to(cy.email) if price_drop(mail)] == []
    assert len(await shop.rows("SELECT id FROM notifications WHERE kind = 'PRICE_DROP'")) == 2


async def test_a_price_rise_mails_no_watcher(shop: Shop) -> None:
    # Given a customer watching a USD 25.00 product
    product_id = await shop.product(price=2500)
    watcher = await shop.customer()
    (await shop.watch(watcher, product_id)).ok()

    # When its price rises
    await shop.set_price(product_id, 2600)
    await shop.event("products", "ProductUpdated", productId=product_id, change="updated")
    await shop.settled()

    # Then nobody is told
    assert await shop.notifications(watcher.id, "PRICE_DROP") == []


async def test_a_lower_amount_in_another_currency_is_not_a_price_drop(shop: Shop) -> None:
    # Given a customer watching a USD 25.00 product
    product_id = await shop.product(price=2500, currency="USD")
    watcher = await shop.customer()
    (await shop.watch(watcher, product_id)).ok()

    # When it is priced EUR 20.00 instead
    await shop.set_price(product_id, 2000, "EUR")
    await shop.event("products", "ProductUpdated", productId=product_id, change="updated")
    await shop.settled()

    # Then nobody is told: the amounts are not comparable
    assert await shop.notifications(watcher.id, "PRICE_DROP") == []


async def test_watchers_are_told_when_a_product_is_back_in_stock(shop: Shop) -> None:
    # Given a customer watching a product with no stock
    product_id = await shop.product(name="Stove Kettle", stock=0)
    watcher = await shop.customer(name="Di")
    (await shop.watch(watcher, product_id)).ok()

    # When units arrive
    await shop.adjust(product_id, 3)

    # Then the watcher is told, once
    mails = await shop.mail.wait_for(watcher.email, back_in_stock)
    assert [mail.subject for mail in mails] == ["Back in stock: Stove Kettle"]
    assert "Stove Kettle, which you watch, is back in stock." in mails[0].part("text/plain")
    await shop.settled()
    assert len([mail for mail in shop.mail.to(watcher.email) if back_in_stock(mail)]) == 1


async def test_a_product_flapping_in_and_out_of_stock_mails_once_within_the_cooldown(shop: Shop) -> None:
    # Given a watcher told that a product is back in stock
    product_id = await shop.product(stock=0)
    watcher = await shop.customer()
    (await shop.watch(watcher, product_id)).ok()
    await shop.adjust(product_id, 2)
    assert await shop.mail.wait_for(watcher.email, back_in_stock)

    # When it sells out and comes back within the cooldown
    await shop.adjust(product_id, -2)
    await shop.adjust(product_id, 2)
    await shop.event("inventory", "StockChanged", productId=product_id, previousAvailable=0, available=2)
    await shop.settled()

    # Then no second mail
    assert len(await shop.notifications(watcher.id, "BACK_IN_STOCK")) == 1


async def test_an_archived_product_back_in_stock_mails_nobody(shop: Shop) -> None:
    # Given a watched product, out of stock, then archived
    product_id = await shop.product(stock=0)
    watcher = await shop.customer()
    (await shop.watch(watcher, product_id)).ok()
    await shop.archive(product_id)

    # When units arrive
    await shop.adjust(product_id, 5)
    await shop.event("inventory", "StockChanged", productId=product_id, previousAvailable=0)
    await shop.settled()

    # Then nobody is told: it is not for sale
    assert await shop.notifications(watcher.id, "BACK_IN_STOCK") == []


async def test_watching_twice_keeps_one_watch(shop: Shop) -> None:
    # Given a customer watching a product
    product_id = await shop.product()
    customer = await shop.customer()
    first = (await shop.watch(customer, product_id)).ok()["watchProduct"]

    # When they watch it again
    second = (await shop.watch(customer, product_id)).ok()["watchProduct"]

    # Then it is the same watch, listed once
    assert second == first == {"product": {"id": product_id}, "createdAt": first["createdAt"]}
    watched = await shop.gql(
        "notifications",
        WATCHED,
        {"representations": [{"__typename": "User", "id": customer.id}]},
        token=customer.token,
    )
    assert watched.ok()["_entities"][0]["watchedProducts"]["nodes"] == [first]


async def test_unwatching_is_idempotent(shop: Shop) -> None:
    # Given a customer watching a product
    product_id = await shop.product()
    customer = await shop.customer()
    (await shop.watch(customer, product_id)).ok()

    # When they unwatch it twice
    removed = (await shop.unwatch(customer, product_id)).ok()["unwatchProduct"]
    again = (await shop.unwatch(customer, product_id)).ok()["unwatchProduct"]

    # Then the first removes the watch, the second finds none, and nothing is watched
    assert (removed, again) == (True, False)
    assert await shop.rows("SELECT * FROM product_watches WHERE user_id = :u", u=uuid.UUID(customer.id)) == []


async def test_watching_a_product_that_does_not_exist_is_not_found(shop: Shop) -> None:
    customer = await shop.customer()

    unknown = await shop.watch(customer, str(uuid.uuid4()))

    assert unknown.error_codes == ["NOT_FOUND"]


async def test_watching_a_malformed_product_id_is_bad_user_input_naming_the_field(shop: Shop) -> None:
    # Given a customer; when they watch something that cannot be a product id
    customer = await shop.customer()

    malformed = await shop.watch(customer, "not-an-id")

    # Then it is their input that is wrong (as in every service), and the field says which
    assert malformed.error_codes == ["BAD_USER_INPUT"]
    assert malformed.errors[0]["extensions"]["field"] == "productId"
    assert await shop.rows("SELECT * FROM product_watches WHERE user_id = :u", u=uuid.UUID(customer.id)) == []


async def test_watching_needs_a_signed_in_user(shop: Shop) -> None:
    product_id = await shop.product()

    watch = "mutation W($id: ID!) { watchProduct(productId: $id) { createdAt } }"
    anonymous = await shop.gql("notifications", watch, {"id": product_id})
    service = await shop.gql(
        "notifications",
        watch,
        {"id": product_id},
        token=shop.issuer.issue_service_token("orders").token,
    )

    assert anonymous.error_codes == ["UNAUTHENTICATED"]
    assert service.error_codes == ["FORBIDDEN"]
