"""Product images: the admin's actions (add, change, remove), their loaders, and where their files go. Bytes
are judged by media_images.py, kept by a `Storage` (media_storage.py), served by media_http.py.

A file is written before its row and deleted after its row's removal commits: a row never names a missing
file. A request whose transaction does not commit (another field of the operation failed, the commit itself)
deletes the files it wrote (`Context.after_rollback`); only a process killed between the two leaves a file
no row names, which is never served (serving starts from the row)."""

from __future__ import annotations

import asyncio
import math
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from shared.errors import BadUserInput, Conflict, NotFound
from shared.ids import parse_uuid, uuid_or_none
from subgraphs.products import media_repository, repository
from subgraphs.products.media_images import (
    MAX_BYTES,
    THUMBNAIL_EXTENSION,
    THUMBNAIL_SIZES,
    CheckedImage,
    check_image,
)
from subgraphs.products.media_storage import LocalDiskStorage, Storage
from subgraphs.products.models import ALT_MAX_LENGTH, ProductMedia

if TYPE_CHECKING:
    from shared.context import Context
    from subgraphs.products.settings import ProductsSettings

# A gallery, not a file share: past this an admin removes one first.
MAX_MEDIA_PER_PRODUCT = 50
# Decoding and thumbnailing run in threads; at most this many at once per process bound the memory they take
# (a 40-megapixel image decodes to 160 MB of RGBA). A thread semaphore, taken in the worker thread: one
# process may run several event loops (tests, embedded servers), and an asyncio one belongs to one loop.
_IMAGE_WORK = threading.BoundedSemaphore(2)
# What `ProductMedia.thumbnail(size:)` and the URLs call each stored rendition.
ORIGINAL = "original"


class Upload(Protocol):
    """What Strawberry hands a resolver for an `Upload` (Starlette's UploadFile)."""

    async def read(self, size: int = -1) -> bytes: ...


def storage_of(settings: ProductsSettings) -> Storage:
    return LocalDiskStorage(settings.media_root)


def original_key(media_id: uuid.UUID, sha256: str, extension: str) -> str:
    return f"{media_id}/{sha256}.{extension}"


def thumbnail_key(media_id: uuid.UUID, sha256: str, side: int) -> str:
    return f"{media_id}/{sha256}-{side}.{THUMBNAIL_EXTENSION}"


def keys_of(row: ProductMedia) -> list[str]:
    """Every file of a media: its original and each thumbnail."""
    return [row.storage_key, *(thumbnail_key(row.id, row.sha256, side) for side in THUMBNAIL_SIZES.values())]


def clean_alt(value: object) -> str:
    if not isinstance(value, str) or len(value) > ALT_MAX_LENGTH:
        raise BadUserInput(f"An alt text is at most {ALT_MAX_LENGTH} characters.", field="alt")
    return value.strip()


async def checked_upload(upload: Upload, max_bytes: int) -> CheckedImage:
    """The upload read (never more than one byte past the limit) and judged, in a thread."""
    if not callable(getattr(upload, "read", None)):
        # A JSON request (or a literal in the query) puts a string where the file goes: only a multipart
        # request's part is a file.
        raise BadUserInput("`file` must be a file part of a multipart request.", field="file")
    data = await upload.read(max_bytes + 1)
    return await asyncio.to_thread(_check_in_turn, data)


def _check_in_turn(data: bytes) -> CheckedImage:
    with _IMAGE_WORK:
        return check_image(data)


async def store(
    session: AsyncSession,
    storage: Storage,
    product_id: uuid.UUID,
    image: CheckedImage,
    *,
    alt: str,
    variant_id: uuid.UUID | None,
    on_rollback: Callable[[Callable[[], Awaitable[None]]], None] | None = None,
) -> ProductMedia:
    """The image's files, then its row at the end of the product's gallery (the product row locked by the
    caller). The files go again if the row cannot be written, or (given `on_rollback`, the request's
    `Context.after_rollback`) if the transaction that holds the row does not commit."""
    media_id = uuid.uuid4()
    key = original_key(media_id, image.sha256, image.extension)
    written = [key]
    try:
        await storage.put(key, image.data, image.content_type)
        for thumbnail in image.thumbnails:
            written.append(thumbnail_key(media_id, image.sha256, thumbnail.size))
            await storage.put(written[-1], thumbnail.data, "image/webp")
        _, position = await media_repository.count_of_product(session, product_id)
        row = await media_repository.insert(
            session,
            {
                "id": media_id,
                "product_id": product_id,
                "variant_id": variant_id,
                "position": position,
                "alt": alt,
                "content_type": image.content_type,
                "width": image.width,
                "height": image.height,
                "byte_size": len(image.data),
                "sha256": image.sha256,
                "storage_key": key,
            },
        )
    except BaseException:
        await asyncio.shield(_delete_quietly(storage, written))
        raise
    if on_rollback is not None:
        on_rollback(lambda: _delete_quietly(storage, written))
    return row


async def _delete_quietly(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        try:
            await storage.delete(key)
        except OSError:  # logged by the caller's failure; a stray file is never served
            pass


@dataclass(frozen=True, slots=True)
class MediaChanges:
    alt: str | None = None
    position: int | None = None
    # (given, value): a variant id, or None for "the product's, not one variant's".
    variant: tuple[bool, str | None] = (False, None)


class MediaService:
    """The admin's actions on images, in the request's transaction (flushes, never commits)."""

    def __init__(self, context: Context) -> None:
        self.context = context

    @property
    def storage(self) -> Storage:
        state = self.context.runtime.state
        return state.storage if state is not None else storage_of(self.context.settings)

    async def add(
        self, raw_product_id: object, upload: Upload, alt: object, raw_variant_id: object
    ) -> ProductMedia:
        session = self.context.session
        product_id = parse_uuid(raw_product_id, "productId", "a product id")
        alt_text = clean_alt(alt) if alt is not None else ""
        # Locked: images added at once get distinct positions, and the count below holds.
        if await repository.get_for_update(session, product_id) is None:
            raise NotFound("No such product.", field="productId")
        variant_id = await self._variant_of(product_id, raw_variant_id, field="variantId")
        count, _ = await media_repository.count_of_product(session, product_id)
        if count >= MAX_MEDIA_PER_PRODUCT:
            raise Conflict(f"A product has at most {MAX_MEDIA_PER_PRODUCT} images.", field="productId")
        image = await checked_upload(upload, MAX_BYTES)
        return await store(
            session,
            self.storage,
            product_id,
            image,
            alt=alt_text,
            variant_id=variant_id,
            on_rollback=self.context.after_rollback,
        )

    async def update(self, raw_id: object, changes: MediaChanges) -> ProductMedia:
        session = self.context.session
        row = await self._locked(raw_id)
        values: dict[str, Any] = {}
        if changes.alt is not None:
            values["alt"] = clean_alt(changes.alt)
        given, raw_variant = changes.variant
        if given:
            values["variant_id"] = await self._variant_of(row.product_id, raw_variant, field="variantId")
        if values:
            await media_repository.update_fields(session, row.id, values)
        if changes.position is not None:
            if changes.position < 0:
                raise BadUserInput("A position is 0 or more.", field="position")
            gallery = [m.id for m in await media_repository.of_products(session, [row.product_id])]
            gallery.remove(row.id)
            gallery.insert(min(changes.position, len(gallery)), row.id)
            await media_repository.set_positions(session, gallery)
        await session.refresh(row)  # the UPDATEs above went around the ORM object
        return row

    async def remove(self, raw_id: object) -> ProductMedia:
        """The row now; its files once the removal has committed (a rollback keeps both)."""
        row = await self._locked(raw_id)
        await media_repository.remove(self.context.session, row.id)
        storage, keys = self.storage, keys_of(row)
        self.context.after_commit(lambda: _delete_quietly(storage, keys))
        return row

    async def _locked(self, raw_id: object) -> ProductMedia:
        media_id = parse_uuid(raw_id, "id", "a media id")
        row = await media_repository.get_for_update(self.context.session, media_id)
        if row is None:
            raise NotFound("No such image.", field="id")
        return row

    async def _variant_of(self, product_id: uuid.UUID, raw: object, *, field: str) -> uuid.UUID | None:
        """The id of a variant of this product (archived ones too: their images stay theirs), or None."""
        if raw is None:
            return None
        variant_id = parse_uuid(raw, field, "a variant id")
        record = await self.context.loaders.variant.load(str(variant_id))
        if record is None or record.product_id != product_id:
            raise BadUserInput("No variant of this product has that id.", field=field)
        return variant_id


class MediaLoaders:
    """`of_product`: product id -> its images in gallery order (one SELECT per batch); `by_id` likewise."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self.of_product: DataLoader[uuid.UUID, list[ProductMedia]] = DataLoader(
            load_fn=self._load_of_products
        )
        self.by_id: DataLoader[str, ProductMedia | None] = DataLoader(load_fn=self._load_by_ids)

    async def _load_of_products(self, product_ids: list[uuid.UUID]) -> list[list[ProductMedia]]:
        grouped: dict[uuid.UUID, list[ProductMedia]] = {product_id: [] for product_id in product_ids}
        for row in await media_repository.of_products(self._context.session, list(grouped)):
            grouped[row.product_id].append(row)
        return [grouped[product_id] for product_id in product_ids]

    async def _load_by_ids(self, keys: list[str]) -> list[ProductMedia | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = list({media_id for media_id in ids if media_id is not None})
        found = {row.id: row for row in await media_repository.by_ids(self._context.session, wanted)}
        return [found.get(media_id) if media_id is not None else None for media_id in ids]


def media_path(media_id: uuid.UUID | str, rendition: str) -> str:
    """The path the router serves a rendition at (`original`, `small`, `medium`, `large`)."""
    return f"/media/{media_id}/{rendition}"


def media_url(settings: ProductsSettings, media_id: uuid.UUID | str, rendition: str) -> str:
    """Absolute from `media_base_url` when set (a CDN, the router's public address); else the path alone,
    which a client resolves against the router it asked."""
    return settings.media_base_url.rstrip("/") + media_path(media_id, rendition)


def rendition_key(row: ProductMedia, rendition: str) -> tuple[str, str] | None:
    """(storage key, content type) of a rendition by its URL name; None for a name that is none."""
    if rendition == ORIGINAL:
        return row.storage_key, row.content_type
    side = THUMBNAIL_SIZES.get(rendition.upper()) if rendition.islower() else None
    if side is None:
        return None
    return thumbnail_key(row.id, row.sha256, side), "image/webp"


def thumbnail_dimensions(width: int, height: int, side: int) -> tuple[int, int]:
    """What Pillow's `Image.thumbnail((side, side))` makes of a width x height image (its rounding)."""
    if width <= side and height <= side:
        return width, height
    aspect = width / height
    x, y = side, side
    if x / y >= aspect:
        x = _round_aspect(y * aspect, lambda n: abs(aspect - n / y))
    else:
        y = _round_aspect(x / aspect, lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


def _round_aspect(number: float, key: Any) -> int:
    return max(min(math.floor(number), math.ceil(number), key=key), 1)
