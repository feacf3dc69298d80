"""Response compression: a GraphQL answer (or `/metrics`) past `min_bytes` is sent br- or gzip-encoded to a
client whose Accept-Encoding takes one (br when it weighs br at least as high). Only whole responses: an SSE
stream is never buffered to compress. bench/response_compression.py measures the levels."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Mapping
from functools import lru_cache

import brotli
from pydantic import BaseModel, Field

Headers = tuple[tuple[bytes, bytes], ...]

_VARY = ((b"vary", b"accept-encoding"),)
_ENCODED = {coding: ((b"content-encoding", coding.encode()), *_VARY) for coding in ("br", "gzip")}


class CompressionConfig(BaseModel):
    """`compression:` in router.yaml."""

    enabled: bool = True
    # Smaller answers go as they are: a few hundred bytes save less than the header and the CPU cost.
    min_bytes: int = Field(1024, ge=0)
    # Measured (CPU time) on a 484 KB answer of 1,000 demo products: gzip level 1 3.7 ms to 27.1%, 5 6.8 ms
    # to 23.2%, 6 8.7 ms to 22.8%, 9 14.4 ms to 22.3% (5: a fifth less CPU than 6 for 2% more bytes); brotli
    # quality 1 1.1 ms to 18.3%, 4 3.5 ms to 16.1%, 5 7.0 ms to 15.0%, 9 37 ms: 4 beats gzip 5 on both counts.
    gzip_level: int = Field(5, ge=1, le=9)
    brotli_quality: int = Field(4, ge=0, le=11)
    # Bodies this large (~1 ms of gzip 5) are compressed off the event loop (zlib and brotli release the
    # GIL), so one big answer does not hold every other request up for milliseconds; smaller ones are not
    # worth the hop.
    thread_min_bytes: int = Field(64 * 1024, ge=0)


class ResponseCompression:
    def __init__(self, config: CompressionConfig) -> None:
        self.config = config
        self._encoders: dict[str, Callable[[bytes], bytes]] = {
            "br": lambda body: brotli.compress(body, quality=config.brotli_quality),
            # wbits 31: the gzip container (header, CRC) around deflate: what `Content-Encoding: gzip` means.
            "gzip": lambda body: zlib.compress(body, config.gzip_level, wbits=31),
        }

    def applies(self, body: bytes) -> bool:
        """Whether `body` is one to compress for a client that takes it (the caller awaits `encode` only then:
        the small answers of the hot path cost one comparison)."""
        return self.config.enabled and len(body) >= self.config.min_bytes

    async def encode(self, body: bytes, accept_encoding: str) -> tuple[bytes, Headers]:
        """(the body to send, the headers that go with it: content-encoding and vary). A body too small to
        compress gets no Vary: no client would get another representation of it."""
        if not self.applies(body):
            return body, ()
        coding = chosen_encoding(accept_encoding) if accept_encoding else None
        if coding is None:
            return body, _VARY
        encoder = self._encoders[coding]
        if len(body) >= self.config.thread_min_bytes:
            return await asyncio.to_thread(encoder, body), _ENCODED[coding]
        return encoder(body), _ENCODED[coding]


def quality_weights(header: str, aliases: Mapping[str, str] | None = None) -> dict[str, float]:
    """The q-value of each item of an Accept-style header (`a;q=0.5, b`), items lower-cased (and renamed by
    `aliases`), the highest q where an item is named twice; a q that is no number counts 0. The HTTP door's
    Accept negotiation reads its header with it too."""
    weights: dict[str, float] = {}
    for part in header.split(","):
        item, *params = part.split(";")
        item = item.strip().lower()
        if aliases:
            item = aliases.get(item, item)
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        weights[item] = max(q, weights[item]) if item in weights else q
    return weights


_CODING_ALIASES = {"x-gzip": "gzip"}


@lru_cache(maxsize=256)
def chosen_encoding(accept_encoding: str) -> str | None:
    """ "br", "gzip" or None (send it as it is) for an Accept-Encoding value: a coding named (or covered by
    `*`) with a q above 0; br over gzip unless gzip weighs more."""
    weights = quality_weights(accept_encoding, _CODING_ALIASES)
    anything = weights.get("*", 0.0)
    br = weights.get("br", anything)
    gzip = weights.get("gzip", anything)
    if br > 0 and br >= gzip:
        return "br"
    if gzip > 0:
        return "gzip"
    return None
