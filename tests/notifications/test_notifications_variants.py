"""Mails with product variants, through the real consumer, sender and SMTP catcher: order and cart lines name
their variant ("T-Shirt — M / Red"), and a watched product is back in stock when one of its variants is
(stock is kept per variant), the mail naming that variant.

The products subgraph of this base has no admin mutations for variants yet: `variant_of` writes the variant's
rows into the products database, as products' repository does."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from mail_catcher import Received
from notifications_shop import Shop
from sqlalchemy import text


def back_in_stock(mail: Received) -> bool:
    return mail.subject.startswith("Back in stock")


async def variant_of(shop: Shop, product_id: str, size: str, colour: str, *, active: bool = True) -> str:
    """A variant (Size, Colour) of `product_id`, whose own variant goes (it is sold in variants now)."""
    variant_id = str(uuid.uuid4())
    async with shop.engines["products"].begin() as conn:
        await conn.execute(text("DELETE FROM product_variants WHERE id = :p"), {"p": product_id})
        await conn.execute(
            text(
                "INSERT INTO product_options (product_id, position, name, values) "
                "VALUES (:p, 0, 'Size', ARRAY[:s]), (:p, 1, 'Colour', ARRAY[:c]) ON CONFLICT DO NOTHING"
            ),
            {"p": product_id, "s": size, "c": colour},
        )
        await conn.execute(
            text(
                "INSERT INTO product_variants (id, product_id, sku, option_values, active, position) "
                "VALUES (:id, :p, :sku, CAST(:values AS jsonb), :active, 0)"
            ),
            {
                "id": variant_id,
                "p": product_id,
                "sku": f"NTF-VAR-{uuid.uuid4().hex[:10].upper()}",
                "values": json.dumps({"Size": size, "Colour": colour}),
                "active": active,
            },
        )
    return variant_id


async def test_an_order_confirmation_names_each_lines_variant(shop: Shop) -> None:
    customer = await shop.customer(name="Gil")
    shirt = await shop.product(name="Linen Shirt", price=2500, stock=0)
    mug = await shop.product(name="Stone Mug", price=900, stock=0)
    items = [
        {
            "productId": shirt,
            "variantId": str(uuid.uuid4()),
            "sku": "LS-M-RED",
            "optionValues": {"Size": "M", "Colour": "Red"},
            "variantLabel": "M / Red",
            "quantity": 2,
            "unitPrice": 2500,
        },
        # a product sold as one thing: its variant is its own, without a label
        {"productId": mug, "variantId": mug, "variantLabel": None, "quantity": 1, "unitPrice": 900},
    ]
    payload = {"orderId": str(uuid.uuid4()), "userId": customer.id, "currency": "USD", "total": 5900}

    await shop.publish("orders", "OrderConfirmed", **payload, items=items)
    await shop.settled()

    [mail] = [mail for mail in shop.mail.to(customer.email) if "confirmed" in mail.subject]
    text_part = mail.part("text/plain")
    assert "2 x Linen Shirt — M / Red at USD 25.00 = USD 50.00" in text_part
    assert "1 x Stone Mug at USD 9.00 = USD 9.00" in text_part


async def test_a_cart_reminder_names_the_variant_from_the_catalog(shop: Shop) -> None:
    customer = await shop.customer(name="Hal")
    shirt = await shop.product(name="Wool Shirt", price=3000, stock=0)
    variant = await variant_of(shop, shirt, "L", "Blue")
    cart = {
        "cartId": str(uuid.uuid4()),
        "userId": customer.id,
        "currency": "USD",
        "subtotal": 3000,
        "lines": [{"productId": shirt, "variantId": variant, "quantity": 1, "unitPrice": 3000}],
        "lastActivityAt": datetime.now(UTC).isoformat(),
    }

    await shop.publish("orders", "CartAbandoned", **cart)
    await shop.settled()

    [mail] = [mail for mail in shop.mail.to(customer.email) if "cart" in mail.subject]
    assert "1 x Wool Shirt — L / Blue at USD 30.00 = USD 30.00" in mail.part("text/plain")


async def test_a_watched_product_is_back_in_stock_when_one_of_its_variants_is(shop: Shop) -> None:
    # Given a customer watching a shirt sold in variants, out of stock
    shirt = await shop.product(name="Silk Shirt", stock=0)
    variant = await variant_of(shop, shirt, "S", "Green")
    watcher = await shop.customer(name="Ida")
    (await shop.watch(watcher, shirt)).ok()

    # When inventory says one variant went from 0 to 4
    stock = {"productId": shirt, "variantId": variant, "previousAvailable": 0, "available": 4}
    await shop.publish("inventory", "StockChanged", **stock, reserved=0, onHand=4, reason="received")

    # Then the watcher is told, the mail naming the variant
    mails = await shop.mail.wait_for(watcher.email, back_in_stock)
    assert [mail.subject for mail in mails] == ["Back in stock: Silk Shirt — S / Green"]


async def test_an_archived_variant_back_in_stock_mails_nobody(shop: Shop) -> None:
    shirt = await shop.product(name="Cotton Shirt", stock=0)
    variant = await variant_of(shop, shirt, "XL", "Black", active=False)
    watcher = await shop.customer()
    (await shop.watch(watcher, shirt)).ok()

    stock = {"productId": shirt, "variantId": variant, "previousAvailable": 0, "available": 4}
    await shop.publish("inventory", "StockChanged", **stock, reserved=0, onHand=4, reason="received")
    await shop.settled()

    assert await shop.notifications(watcher.id, "BACK_IN_STOCK") == []
