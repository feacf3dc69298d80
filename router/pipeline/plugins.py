"""The router stages of router.yaml's plugins (router/plugins/): around the gateway's stages, the
router-request hooks (after the edge, before parsing; a Refusal answers in the router's place) and the
router-response hooks (on every answer, a refusal too). Entered from router/pipeline/entry.py only when
plugins are configured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from router.execution.subscription import SubscriptionStream
from router.pipeline.errors import RequestError
from router.pipeline.request import GraphQLRequest
from router.plugins import PluginChain, PluginFailed, RequestContext, RouterRequest, RouterResponse
from router.plugins.chain import current_context

Answer = dict[str, Any] | SubscriptionStream

# A hook that raised: the request answers PLUGIN_ERROR with this status (its stack is logged, not sent).
PLUGIN_FAILURE_STATUS = 500


async def run_with_plugins(
    chain: PluginChain, request: GraphQLRequest, run: Callable[[GraphQLRequest], Awaitable[Answer]]
) -> Answer:
    """`run(request)` (the gateway's stages) between the router-request and router-response hooks; the
    request's context goes to the subgraph hooks through `current_context` (this task and those it starts,
    a subscription's stream included)."""
    context = request.plugin_context = RequestContext(request)
    current_context.set(context)
    try:
        if chain.router_request:
            refusal = await chain.ask("router_request", chain.router_request, RouterRequest(request, context))
            if refusal is not None:
                raise RequestError([refusal.error()], refusal.status)
        answer = await run(request)
    except PluginFailed as failed:
        raise await _refused(chain, context, RequestError([failed.error()], PLUGIN_FAILURE_STATUS)) from None
    except RequestError as refused:
        raise await _refused(chain, context, refused) from None
    if chain.router_response and isinstance(answer, dict):
        response = RouterResponse(answer, context)
        try:
            await chain.tell("router_response", chain.router_response, response)
        except PluginFailed as failed:
            raise _with_headers(RequestError([failed.error()], PLUGIN_FAILURE_STATUS), context) from None
        answer = response.body
    return answer


async def _refused(chain: PluginChain, context: RequestContext, refused: RequestError) -> RequestError:
    """The refusal after the router-response hooks (they may change its errors and add headers)."""
    if chain.router_response:
        response = RouterResponse({"errors": refused.errors}, context, refused.status)
        try:
            await chain.tell("router_response", chain.router_response, response)
        except PluginFailed as failed:
            refused = RequestError([failed.error()], PLUGIN_FAILURE_STATUS)
        else:
            errors = response.body.get("errors")
            if isinstance(errors, list) and errors:
                refused.errors = errors
    return _with_headers(refused, context)


def _with_headers(refused: RequestError, context: RequestContext) -> RequestError:
    if context.response_headers:
        refused.headers = (*refused.headers, *response_headers(context))
    return refused


def response_headers(context: RequestContext) -> tuple[tuple[bytes, bytes], ...]:
    """The headers the hooks added to the client's response, as the HTTP doors send them."""
    return tuple(
        (name.lower().encode("latin-1", "replace"), str(value).encode("latin-1", "replace"))
        for name, value in context.response_headers.items()
    )
