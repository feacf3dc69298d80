"""The parts of product media on their own: the local-disk storage (atomic, ranged, no key outside its root),
byte ranges as RFC 9110 reads them, thumbnail sizes as Pillow makes them, the demo's drawn images."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from myshop.demo.catalog import generate_products
from myshop.demo.images import product_card
from myshop.demo.products import seed
from subgraphs.products.media import original_key, thumbnail_dimensions, thumbnail_key
from subgraphs.products.media_http import _byte_range
from subgraphs.products.media_images import THUMBNAIL_SIZES, check_image
from subgraphs.products.media_storage import BadKey, LocalDiskStorage
from subgraphs.products.models import ProductMedia

SHA = "ab" * 32


def entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def key(extension: str = "png") -> str:
    return original_key(uuid.uuid4(), SHA, extension)


async def test_a_stored_object_reads_whole_and_by_range_and_is_gone_once_deleted(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)
    name = key()

    await storage.put(name, b"0123456789", "image/png")

    assert await storage.read(name) == b"0123456789"
    assert await storage.read(name, 2, 5) == b"234"
    assert (await storage.stat(name)).size == 10  # type: ignore[union-attr]
    await storage.delete(name)
    assert await storage.stat(name) is None
    await storage.delete(name)  # twice: no error
    assert entries(tmp_path) == []  # the media's directory went with its last file


async def test_a_put_leaves_no_temporary_file_and_replaces_whole(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)
    name = key()

    await storage.put(name, b"old", "image/png")
    await storage.put(name, b"new bytes", "image/png")

    assert await storage.read(name) == b"new bytes"
    assert entries((tmp_path / name).parent) == [Path(name).name]


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd",
        f"{uuid.uuid4()}/../../{SHA}.png",
        f"/{uuid.uuid4()}/{SHA}.png",
        f"{uuid.uuid4()}/{SHA}.png/..",
        "x.png",
        f"{uuid.uuid4()}/{SHA}.PNG",
    ],
)
async def test_a_key_the_service_never_makes_is_refused(tmp_path: Path, bad: str) -> None:
    storage = LocalDiskStorage(tmp_path / "media")

    with pytest.raises(BadKey):
        await storage.put(bad, b"x", "image/png")
    with pytest.raises(BadKey):
        await storage.read(bad)
    assert not (tmp_path / "media").exists()


def test_thumbnail_keys_are_keys_the_storage_takes(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)
    media_id = uuid.uuid4()
    for side in THUMBNAIL_SIZES.values():
        assert storage._path(thumbnail_key(media_id, SHA, side)).parent == tmp_path / str(media_id)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 10)),
        ("bytes=90-", (90, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=-500", (0, 100)),
        ("bytes=95-200", (95, 100)),
        ("bytes=100-", False),
        ("bytes=-0", False),
        ("bytes=5-2", None),
        ("bytes=0-1,5-6", None),  # several ranges: answered whole
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_byte_ranges_are_read_as_rfc_9110_says(header: str, expected: Any) -> None:
    assert _byte_range(header, 100) == expected


@pytest.mark.parametrize("size", [(1200, 800), (333, 1999), (1025, 1), (1, 3000), (100, 50), (2000, 2000)])
def test_thumbnail_dimensions_are_those_pillow_makes(size: tuple[int, int]) -> None:
    out = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(out, "PNG")

    checked = check_image(out.getvalue())

    for thumbnail in checked.thumbnails:
        assert (thumbnail.width, thumbnail.height) == thumbnail_dimensions(*size, thumbnail.size)


def test_an_animated_gif_keeps_its_frames() -> None:
    frames = [Image.new("RGB", (30, 20), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)

    checked = check_image(out.getvalue())

    assert checked.content_type == "image/gif"
    with Image.open(io.BytesIO(checked.data)) as stored:
        assert stored.n_frames == 3


def test_a_demo_card_is_an_accepted_image_of_its_colour() -> None:
    item = generate_products(1)[0]

    checked = check_image(product_card(item))

    assert (checked.content_type, checked.width, checked.height) == ("image/png", 800, 600)
    assert product_card(item) == product_card(item)  # the same every seed


async def test_the_seed_pictures_its_first_products_once(products_db: Any, tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)
    async with products_db() as session, session.begin():
        first = await seed(session, 6, images=4, storage=storage)
    async with products_db() as session, session.begin():
        again = await seed(session, 6, images=4, storage=storage)
        rows = (await session.scalars(select(ProductMedia))).all()
        count = await session.scalar(select(func.count()).select_from(ProductMedia))

    assert first[-1] == "products: 4 demo images generated"
    assert again[-1] == "products: 0 demo images generated"
    assert count == 4
    for row in rows:
        assert await storage.stat(row.storage_key) is not None
        assert row.alt  # the product's name
    assert sum(len(files) for _, _, files in os.walk(tmp_path)) == 4 * (1 + len(THUMBNAIL_SIZES))
