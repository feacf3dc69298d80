"""Carts over the orders subgraph: a customer's cart on every device, guest carts by token, merging at
sign-in, prices told when they change, archived products flagged, and nobody else's cart reachable."""

from __future__ import annotations

import asyncio
import uuid

from cart_shop import (
    ADD,
    CART,
    CREATE,
    ENTITIES,
    MERGE,
    REMOVE,
    UPDATE,
    account,
    cart_call,
    login,
    set_price,
)
from orders_shop import Shop


async def test_a_customers_cart_survives_a_second_device(shop: Shop) -> None:
    product = await shop.product(price=1250)
    email, password, first_device = await account(shop)
    added = (await cart_call(shop, ADD, first_device, product=product, quantity=2)).ok()["cartAddLine"]

    second_device = await login(shop, email, password)
    cart = (await cart_call(shop, CART, second_device)).ok()["cart"]

    assert cart["id"] == added["id"]
    assert [(line["product"]["id"], line["quantity"]) for line in cart["lines"]] == [(product, 2)]
    assert cart["subtotal"] == {"amount": 2500, "currency": "USD"}
    assert cart["total"] == cart["subtotal"]


async def test_adding_a_product_again_adds_to_its_line(shop: Shop) -> None:
    product = await shop.product(price=300)
    customer = shop.customer()
    await cart_call(shop, ADD, customer.token, product=product, quantity=2)

    cart = (await cart_call(shop, ADD, customer.token, product=product, quantity=3)).ok()["cartAddLine"]

    assert [line["quantity"] for line in cart["lines"]] == [5]
    assert cart["subtotal"]["amount"] == 1500


async def test_a_guest_reads_their_cart_with_its_token_and_a_wrong_token_finds_nothing(shop: Shop) -> None:
    product = await shop.product(price=999)
    created = (await cart_call(shop, CREATE)).ok()["createCart"]
    token = created["token"]
    assert created["cart"]["lines"] == [] and created["cart"]["currency"] is None

    await cart_call(shop, ADD, None, product=product, quantity=1, token=token)
    cart = (await cart_call(shop, CART, None, token=token)).ok()["cart"]
    wrong = await cart_call(shop, CART, None, token=token[:-2] + "xx")
    anonymous = await cart_call(shop, CART)

    assert cart["id"] == created["cart"]["id"]
    assert [line["product"]["id"] for line in cart["lines"]] == [product]
    assert wrong.error_codes == ["NOT_FOUND"]
    assert anonymous.error_codes == ["UNAUTHENTICATED"]


async def test_merging_a_guest_cart_at_sign_in_keeps_every_line_and_ends_the_token(shop: Shop) -> None:
    shared_product, guest_only = await shop.product(price=100), await shop.product(price=200)
    customer = shop.customer()
    await cart_call(shop, ADD, customer.token, product=shared_product, quantity=1)
    token = (await cart_call(shop, CREATE)).ok()["createCart"]["token"]
    await cart_call(shop, ADD, None, product=shared_product, quantity=2, token=token)
    await cart_call(shop, ADD, None, product=guest_only, quantity=4, token=token)

    merged = (await cart_call(shop, MERGE, customer.token, token=token)).ok()["mergeGuestCart"]
    guest_after = await cart_call(shop, CART, None, token=token)

    quantities = {line["product"]["id"]: line["quantity"] for line in merged["lines"]}
    assert quantities == {shared_product: 3, guest_only: 4}
    assert merged["subtotal"]["amount"] == 3 * 100 + 4 * 200
    assert guest_after.error_codes == ["NOT_FOUND"]
    statuses = await shop.rows("orders", "SELECT status FROM carts WHERE user_id IS NULL")
    assert statuses == [{"status": "MERGED"}]


async def test_a_price_change_is_told_once_with_the_price_seen_before(shop: Shop) -> None:
    product = await shop.product(price=1000)
    customer = shop.customer()
    await cart_call(shop, ADD, customer.token, product=product, quantity=2)

    await set_price(shop, product, 1200)
    first = (await cart_call(shop, CART, customer.token)).ok()["cart"]
    second = (await cart_call(shop, CART, customer.token)).ok()["cart"]

    line = first["lines"][0]
    assert line["priceChanged"] is True
    assert line["unitPrice"]["amount"] == 1200 and line["previousUnitPrice"]["amount"] == 1000
    assert first["subtotal"]["amount"] == 2400
    assert [(n["code"], n["lineId"]) for n in first["notices"]] == [("PRICE_CHANGED", line["id"])]
    assert second["lines"][0]["priceChanged"] is False and second["notices"] == []


async def test_an_archived_product_is_flagged_and_kept_but_not_counted(shop: Shop) -> None:
    kept, archived = await shop.product(price=500), await shop.product(price=700)
    customer = shop.customer()
    await cart_call(shop, ADD, customer.token, product=kept, quantity=1)
    await cart_call(shop, ADD, customer.token, product=archived, quantity=1)

    await shop.archive(archived)
    cart = (await cart_call(shop, CART, customer.token)).ok()["cart"]

    availability = {line["product"]["id"]: line["available"] for line in cart["lines"]}
    assert availability == {kept: True, archived: False}
    assert cart["subtotal"]["amount"] == 500
    assert [(n["code"], n["productId"]) for n in cart["notices"]] == [("PRODUCT_UNAVAILABLE", archived)]


async def test_updating_a_line_to_zero_removes_it_and_empties_the_currency(shop: Shop) -> None:
    product = await shop.product(price=500)
    customer = shop.customer()
    line = (await cart_call(shop, ADD, customer.token, product=product, quantity=1)).ok()["cartAddLine"][
        "lines"
    ][0]

    updated = (await cart_call(shop, UPDATE, customer.token, line=line["id"], quantity=7)).ok()[
        "cartUpdateLine"
    ]
    emptied = (await cart_call(shop, UPDATE, customer.token, line=line["id"], quantity=0)).ok()[
        "cartUpdateLine"
    ]

    assert updated["lines"][0]["quantity"] == 7
    assert emptied["lines"] == [] and emptied["currency"] is None
    assert emptied["subtotal"]["amount"] == 0


async def test_another_customers_cart_lines_and_entity_are_invisible(shop: Shop) -> None:
    product = await shop.product()
    owner, other = shop.customer(), shop.customer()
    cart = (await cart_call(shop, ADD, owner.token, product=product, quantity=1)).ok()["cartAddLine"]
    line_id = cart["lines"][0]["id"]
    representations = [{"__typename": "Cart", "id": cart["id"]}]

    update = await cart_call(shop, UPDATE, other.token, line=line_id, quantity=5)
    remove = await cart_call(shop, REMOVE, other.token, line=line_id)
    as_other = (await cart_call(shop, ENTITIES, other.token, representations=representations)).ok()
    as_owner = (await cart_call(shop, ENTITIES, owner.token, representations=representations)).ok()
    as_service = (await cart_call(shop, ENTITIES, shop.service, representations=representations)).ok()

    assert update.error_codes == ["NOT_FOUND"] and remove.error_codes == ["NOT_FOUND"]
    assert as_other["_entities"] == [None]
    assert as_owner["_entities"][0]["subtotal"] == cart["subtotal"]
    assert as_service["_entities"][0]["id"] == cart["id"]
    assert (await cart_call(shop, CART, owner.token)).ok()["cart"]["lines"][0]["quantity"] == 1


async def test_a_guest_cart_is_read_by_id_only_by_a_service(shop: Shop) -> None:
    created = (await cart_call(shop, CREATE)).ok()["createCart"]
    representations = [{"__typename": "Cart", "id": created["cart"]["id"]}]

    as_customer = (
        await cart_call(shop, ENTITIES, shop.customer().token, representations=representations)
    ).ok()
    as_anonymous = (await cart_call(shop, ENTITIES, None, representations=representations)).ok()
    as_service = (await cart_call(shop, ENTITIES, shop.service, representations=representations)).ok()

    assert as_customer["_entities"] == [None] and as_anonymous["_entities"] == [None]
    assert as_service["_entities"][0]["id"] == created["cart"]["id"]


async def test_an_unknown_cart_line_is_not_found(shop: Shop) -> None:
    customer = shop.customer()

    response = await cart_call(shop, UPDATE, customer.token, line=str(uuid.uuid4()), quantity=1)

    assert response.error_codes == ["NOT_FOUND"]


async def test_two_devices_at_once_share_one_new_cart_and_their_adds_add_up(shop: Shop) -> None:
    product = await shop.product(price=100)
    customer = shop.customer()

    reads = await asyncio.gather(*(cart_call(shop, CART, customer.token) for _ in range(4)))
    adds = await asyncio.gather(
        *(cart_call(shop, ADD, customer.token, product=product, quantity=1) for _ in range(4))
    )

    assert len({read.ok()["cart"]["id"] for read in reads}) == 1
    assert all(add.error_codes == [] for add in adds)
    cart = (await cart_call(shop, CART, customer.token)).ok()["cart"]
    assert cart["id"] == reads[0].ok()["cart"]["id"]
    assert [line["quantity"] for line in cart["lines"]] == [4]


async def test_many_carts_by_reference_are_answered_in_order(shop: Shop) -> None:
    products = [await shop.product(price=price) for price in (100, 200, 300)]
    carts = []
    for index, product in enumerate(products):
        customer = shop.customer()
        added = await cart_call(shop, ADD, customer.token, product=product, quantity=index + 1)
        carts.append(added.ok()["cartAddLine"]["id"])
    representations = [{"__typename": "Cart", "id": cart_id} for cart_id in [*carts, str(uuid.uuid4())]]

    answer = (await cart_call(shop, ENTITIES, shop.service, representations=representations)).ok()

    assert [entity and entity["id"] for entity in answer["_entities"]] == [*carts, None]
    assert [entity["subtotal"]["amount"] for entity in answer["_entities"][:3]] == [100, 400, 900]


async def test_two_changes_in_one_operation_each_answer_the_cart_as_it_is_then(shop: Shop) -> None:
    product, other = await shop.product(price=100), await shop.product(price=50)
    customer = shop.customer()
    twice = """
    mutation Twice($product: ID!, $other: ID!) {
      first: cartAddLine(productId: $product, quantity: 1) { lines { quantity } }
      second: cartAddLine(productId: $other, quantity: 2) { lines { quantity } subtotal { amount } }
    }"""

    answer = (await cart_call(shop, twice, customer.token, product=product, other=other)).ok()

    assert answer["first"]["lines"] == [{"quantity": 1}]
    assert answer["second"] == {"lines": [{"quantity": 1}, {"quantity": 2}], "subtotal": {"amount": 200}}
