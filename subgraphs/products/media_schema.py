"""The products schema's images: `ProductMedia`, the `Product.media`/`ProductVariant.media` resolvers and the
admin's media mutations (mixed into schema.py's `Mutation`). Thin: media.py has the rules."""

from __future__ import annotations

import uuid
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.file_uploads import Upload
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, guarded
from shared.errors import BadUserInput
from subgraphs.products.media import (
    ORIGINAL,
    MediaChanges,
    MediaService,
    media_url,
    thumbnail_dimensions,
)
from subgraphs.products.media_images import THUMBNAIL_CONTENT_TYPE, THUMBNAIL_SIZES
from subgraphs.products.models import ProductMedia as MediaRow

if TYPE_CHECKING:
    from subgraphs.products.schema import Product, ProductVariant


@strawberry.enum(description="The thumbnails made of every image: within a square of this many pixels.")
class ThumbnailSize(Enum):
    SMALL = "SMALL"  # 160
    MEDIUM = "MEDIUM"  # 480
    LARGE = "LARGE"  # 1024


@strawberry.type(description="One stored rendition of an image (a thumbnail), served by the router.")
class MediaImage:
    url: str = strawberry.field(
        description="Where the router serves it (`/media/<id>/<size>`, absolute when the service is given a "
        "public base URL); cacheable for a year (it never changes), with an ETag and byte ranges."
    )
    width: int
    height: int
    content_type: str


@strawberry.type(description="An image of a product, optionally of one of its variants.")
class ProductMedia:
    id: strawberry.ID
    url: str = strawberry.field(description="The original (metadata removed), served like a thumbnail.")
    alt: str = strawberry.field(description="Text for readers that cannot see it; may be empty.")
    width: int = strawberry.field(description="Pixels of the original.")
    height: int
    content_type: str = strawberry.field(description="image/png, image/jpeg, image/webp or image/gif.")
    byte_size: int = strawberry.field(description="Bytes of the original.")
    position: int = strawberry.field(description="Its place in the product's gallery, from 0.")
    product_id: strawberry.Private[uuid.UUID]
    variant_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The variant it shows; null when it shows the product as a whole.")
    async def variant(
        self, info: Info
    ) -> Annotated[ProductVariant, strawberry.lazy("subgraphs.products.schema")] | None:
        from subgraphs.products.schema import ProductVariant

        if self.variant_id is None:
            return None
        record = await info.context.loaders.variant.load(str(self.variant_id))
        return ProductVariant.from_record(record) if record is not None else None

    @strawberry.field(description="A thumbnail (WebP, never larger than the original).")
    def thumbnail(self, info: Info, size: ThumbnailSize = ThumbnailSize.MEDIUM) -> MediaImage:
        side = THUMBNAIL_SIZES[size.value]
        width, height = thumbnail_dimensions(self.width, self.height, side)
        return MediaImage(
            url=media_url(info.context.settings, self.id, size.value.lower()),
            width=width,
            height=height,
            content_type=THUMBNAIL_CONTENT_TYPE,
        )

    @classmethod
    def of(cls, row: MediaRow, info: Info) -> ProductMedia:
        return cls(
            id=strawberry.ID(str(row.id)),
            url=media_url(info.context.settings, row.id, ORIGINAL),
            alt=row.alt,
            width=row.width,
            height=row.height,
            content_type=row.content_type,
            byte_size=row.byte_size,
            position=row.position,
            product_id=row.product_id,
            variant_id=row.variant_id,
        )


async def product_media(root: Product, info: Info) -> list[ProductMedia]:
    rows = await info.context.loaders.media.of_product.load(uuid.UUID(root.id))
    return [ProductMedia.of(row, info) for row in rows]


async def variant_media(root: ProductVariant, info: Info) -> list[ProductMedia]:
    rows = await info.context.loaders.media.of_product.load(root.product_id)
    variant_id = uuid.UUID(root.id)
    return [ProductMedia.of(row, info) for row in rows if row.variant_id == variant_id]


PRODUCT_MEDIA = strawberry.field(
    resolver=product_media,
    description="Its images in gallery order (those of its variants included, each naming its variant).",
    directives=[ListSize(assumed_size=10)],
)
VARIANT_MEDIA = strawberry.field(
    resolver=variant_media,
    description="The images of this variant alone, in gallery order (a listing falls back to the "
    "product's `media` when empty).",
    directives=[ListSize(assumed_size=5)],
)


@strawberry.input(description="Only the fields given change.")
class UpdateProductMediaInput:
    alt: str | None = strawberry.UNSET
    position: int | None = strawberry.field(
        default=strawberry.UNSET, description="Moves it to this place in the gallery (past the end: last)."
    )
    variant_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Null: the product's image, no variant's."
    )


@strawberry.type
class MediaMutations:
    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Add an image to a product's gallery (last). The file (a multipart upload) must be a "
        "PNG, JPEG, WebP or GIF by its content, at most 10 MiB and 40 megapixels: else "
        "UNSUPPORTED_MEDIA_TYPE, FILE_TOO_LARGE or IMAGE_TOO_LARGE, and nothing is stored.",
    )
    async def add_product_media(
        self,
        info: Info,
        product_id: strawberry.ID,
        file: Upload,
        alt: str | None = None,
        variant_id: strawberry.ID | None = None,
    ) -> ProductMedia:
        row = await MediaService(info.context).add(product_id, file, alt, variant_id)
        return ProductMedia.of(row, info)

    @strawberry.mutation(**guarded(IsAdmin), description="Change an image's alt text, place or variant.")
    async def update_product_media(
        self, info: Info, id: strawberry.ID, input: UpdateProductMediaInput
    ) -> ProductMedia:
        if input.alt is None or input.position is None:
            field = "alt" if input.alt is None else "position"
            raise BadUserInput(f"`{field}` cannot be null.", field=field)
        changes = MediaChanges(
            alt=input.alt if input.alt is not strawberry.UNSET else None,
            position=input.position if input.position is not strawberry.UNSET else None,
            variant=(input.variant_id is not strawberry.UNSET, input.variant_id or None),
        )
        row = await MediaService(info.context).update(id, changes)
        return ProductMedia.of(row, info)

    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Remove an image (its files go once the removal is saved); answers it as it was.",
    )
    async def remove_product_media(self, info: Info, id: strawberry.ID) -> ProductMedia:
        row = await MediaService(info.context).remove(id)
        return ProductMedia.of(row, info)
