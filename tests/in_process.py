"""A service's operations executed in the test's own process: the context an HTTP request would give them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from shared.context import Context, Runtime


def request_context(runtime: Runtime[Any]) -> Context:
    connection = Request(
        {"type": "http", "method": "POST", "path": "/graphql", "headers": [], "client": None}
    )
    return Context(runtime, connection)
