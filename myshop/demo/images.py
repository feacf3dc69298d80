"""Demo product images, drawn (Pillow), never downloaded: a card in a colour of the product's own (from its
SKU, so every seed draws the same one) with its name and category, stored through the products service's
own path (checked, thumbnailed, kept by its storage) like an admin's upload."""

from __future__ import annotations

import colorsys
import io
import textwrap
import zlib

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myshop.demo.catalog import CatalogItem, demo_product_id
from subgraphs.products import media
from subgraphs.products.media_images import check_image
from subgraphs.products.media_storage import Storage
from subgraphs.products.models import Product, ProductMedia

CARD_SIZE = (800, 600)


def product_card(item: CatalogItem) -> bytes:
    """A PNG card: the name large on a colour of the SKU's, the category and SKU beneath."""
    hue = (zlib.crc32(item.sku.encode()) % 360) / 360
    background = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.45, 0.85))
    image = Image.new("RGB", CARD_SIZE, background)  # type: ignore[arg-type]
    draw = ImageDraw.Draw(image)
    title = ImageFont.load_default(size=56)
    small = ImageFont.load_default(size=30)
    draw.rounded_rectangle((40, 40, CARD_SIZE[0] - 40, CARD_SIZE[1] - 40), 36, outline="white", width=6)
    lines = textwrap.wrap(item.name, width=22)[:4]
    y = 120
    for line in lines:
        draw.text((80, y), line, fill="white", font=title)
        y += 70
    draw.text((80, CARD_SIZE[1] - 140), f"{item.category}  ·  {item.sku}", fill="white", font=small)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def seed_images(session: AsyncSession, storage: Storage, items: list[CatalogItem]) -> int:
    """A card for each of `items` whose product has no image yet (idempotent); how many were added."""
    ids = {demo_product_id(item.sku): item for item in items}
    # A SKU taken by a product of another id (made by hand before the seed) has no demo product to picture.
    present = set((await session.scalars(select(Product.id).where(Product.id.in_(list(ids))))).all())
    pictured = set(
        (
            await session.scalars(
                select(ProductMedia.product_id).where(ProductMedia.product_id.in_(list(ids))).distinct()
            )
        ).all()
    )
    added = 0
    for product_id, item in ids.items():
        if product_id in pictured or product_id not in present:
            continue
        image = check_image(product_card(item))
        await media.store(session, storage, product_id, image, alt=item.name, variant_id=None)
        added += 1
    return added
