"""Where product images live: the `Storage` protocol (put, read a byte range, stat, delete) and its local-disk
implementation under `<data_dir>/media`. Keys are made by the service from ids and hashes it computed
(`media.py`), never from a client's file name; the disk storage still refuses any key that is not one of those
shapes, so no key can leave its root."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# `<media uuid>/<64 hex>.<ext>` or `<media uuid>/<64 hex>-<size>.<ext>`: the only keys media.py makes.
KEY_PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[0-9a-f]{64}(-[0-9]{1,5})?\.[a-z]{3,4}"
)


class BadKey(ValueError):
    """A storage key that is not one the service makes."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    content_type: str | None = None


class Storage(Protocol):
    """Blob storage for media: whole objects in, byte ranges out. Implementations are safe to call from many
    requests at once; a `put` is atomic (a reader sees the old object, or none, or the new one whole)."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes `start` to `end` (exclusive; None: to the end). FileNotFoundError when there is no object."""
        ...

    async def stat(self, key: str) -> StoredObject | None: ...

    async def delete(self, key: str) -> None:
        """Gone (no error when it never was)."""
        ...


class LocalDiskStorage:
    """Files under `root`, one directory per media (`<media id>/<sha256>[-<size>].<ext>`). A put writes a
    temporary file in the target directory and renames it over the key (atomic on POSIX); blocking file
    calls run in a thread so the event loop never waits on the disk."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        if not KEY_PATTERN.fullmatch(key):
            raise BadKey(f"not a media storage key: {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(_write_atomically, path, data)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        path = self._path(key)
        return await asyncio.to_thread(_read_range, path, start, end)

    async def stat(self, key: str) -> StoredObject | None:
        path = self._path(key)
        try:
            result = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            return None
        return StoredObject(key=key, size=result.st_size)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(_unlink, path)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _read_range(path: Path, start: int, end: int | None) -> bytes:
    with path.open("rb") as file:
        file.seek(start)
        return file.read() if end is None else file.read(max(0, end - start))


def _unlink(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()
    # The media's directory goes with its last file (another media never shares it); not empty: kept.
    with suppress(OSError):
        path.parent.rmdir()
