"""The subgraph stages of router.yaml's plugins (router/plugins/): the subgraph-request hooks before a
fetch is sent (its headers, after router.yaml's header rules; a Refusal fails that fetch unsent) and the
subgraph-response hooks on its answer. Run by the resilient client (and the subscription WebSocket client)
only when some plugin hooks these stages, for fetches of a request the pipeline serves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from router.plugins import PLUGIN_ERROR, PluginChain, PluginFailed, SubgraphRequest, SubgraphResponse
from router.plugins.chain import current_context
from router.upstream.transport import SubgraphAnswer, SubgraphFetchError


class FetchRefused(SubgraphFetchError):
    """A subgraph-request hook refused the fetch (its code), or a hook failed (PLUGIN_ERROR): nothing was
    sent, and the subgraph's breaker does not count it."""

    transient = False

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


async def before_fetch(
    chain: PluginChain,
    subgraph: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    mutation: bool = False,
    transport: str = "http",
) -> SubgraphRequest | None:
    """Runs the subgraph-request hooks (they may change `headers` and `body` in place); FetchRefused when
    one refuses or fails. None outside a request the pipeline serves (no context: no hooks)."""
    context = current_context.get()
    if context is None:
        return None
    request = SubgraphRequest(subgraph, body, headers, context, mutation=mutation, transport=transport)
    if chain.subgraph_request:
        try:
            refusal = await chain.ask("subgraph_request", chain.subgraph_request, request)
        except PluginFailed as failed:
            raise FetchRefused(str(failed), PLUGIN_ERROR) from None
        if refusal is not None:
            raise FetchRefused(refusal.message, refusal.code)
    return request


async def after_fetch(
    chain: PluginChain, request: SubgraphRequest, payload: dict[str, Any], shared: bool
) -> dict[str, Any]:
    """The answer after the subgraph-response hooks; FetchRefused (PLUGIN_ERROR) when one fails. `shared`:
    the answer is also another request's (an identical fetch in flight), so the hooks get a copy."""
    if not chain.subgraph_response:
        return payload
    headers: Mapping[str, str] = getattr(payload, "headers", None) or {}
    cache_control = getattr(payload, "cache_control", None)
    if shared:
        payload = orjson.loads(orjson.dumps(payload))
    response = SubgraphResponse(request, payload, headers)
    try:
        await chain.tell("subgraph_response", chain.subgraph_response, response)
    except PluginFailed as failed:
        raise FetchRefused(str(failed), PLUGIN_ERROR) from None
    body = response.body
    if not isinstance(body, dict):
        raise FetchRefused("a router plugin left the subgraph response without a body", PLUGIN_ERROR)
    if cache_control is not None and not isinstance(body, SubgraphAnswer):
        body = SubgraphAnswer(body, cache_control)  # the entity cache still reads it
    return body
