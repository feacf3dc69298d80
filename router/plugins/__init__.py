"""Python plugins: hooks at four stages of every request, loaded from router.yaml's `plugins:` (the way
Apollo Router offers coprocessors and Rhai, and Hive Router Rust plugins). README, "Plugins".

    router request     after the edge admits the request, before parsing: headers, context; may refuse
    subgraph request   per fetch (and a subscription's upstream connection): headers; may refuse the fetch
    subgraph response  per answered fetch: its body and headers
    router response    per answer: its body, extensions and the client's response headers

A plugin author imports from here only."""

from router.plugins.api import (
    PLUGIN_ERROR,
    Plugin,
    Refusal,
    RequestContext,
    RouterRequest,
    RouterResponse,
    SubgraphRequest,
    SubgraphResponse,
)
from router.plugins.chain import PluginChain, PluginFailed, PluginLoadError, PluginSpec, load_plugins

__all__ = [
    "PLUGIN_ERROR",
    "Plugin",
    "PluginChain",
    "PluginFailed",
    "PluginLoadError",
    "PluginSpec",
    "Refusal",
    "RequestContext",
    "RouterRequest",
    "RouterResponse",
    "SubgraphRequest",
    "SubgraphResponse",
    "load_plugins",
]
