"""The router's `/media/*` pass-through (router/http/media.py) on its own: off unless enabled, and a media
subgraph that is down answers a coded 502, not a hang or a 500. (Images served end to end:
tests/products/test_products_media.py.)"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.config import RouterConfig

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_media_subgraph_that_is_down_answers_502_with_a_code(
    start_router: Callable[..., Any],
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/graphql"
    router = start_router(SUPERGRAPH, subgraph_urls={"products": dead}, media={"enabled": True})

    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        answer = await client.get(f"/media/{uuid.uuid4()}/small")

    assert answer.status_code == 502
    assert answer.json()["errors"][0]["extensions"]["code"] == "SUBREQUEST_HTTP_ERROR"


async def test_media_is_not_served_unless_enabled(start_router: Callable[..., Any]) -> None:
    router = start_router(SUPERGRAPH)

    async with httpx.AsyncClient(base_url=router.url, timeout=10) as client:
        answer = await client.get(f"/media/{uuid.uuid4()}/small")

    assert answer.status_code == 404


def test_a_misspelt_media_setting_fails_the_start() -> None:
    with pytest.raises(ValueError):
        RouterConfig(media={"enabled": True, "timeout": 5})
