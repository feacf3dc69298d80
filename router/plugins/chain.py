"""Loading router.yaml's `plugins:` and running their hooks: each stage's hooks in the order the plugins
are listed, sync or async, a Refusal ending the stage, anything else a hook raises logged (with its stack)
and answered as PLUGIN_ERROR. The request's context reaches the subgraph stages, below the pipeline, through
`current_context` (set by the pipeline for the request's task, inherited by the tasks it starts)."""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field, field_validator

from router.plugins.api import PLUGIN_ERROR, Refusal, RequestContext

logger = logging.getLogger(__name__)

STAGES = ("router_request", "subgraph_request", "subgraph_response", "router_response")

# The context of the request this task serves (None: no plugins, or a fetch outside any request).
current_context: ContextVar[RequestContext | None] = ContextVar("myshop_plugin_context", default=None)

_Hooks = tuple[tuple[str, Any], ...]  # (the plugin's `module:Class`, its bound hook)


class PluginSpec(BaseModel):
    """One entry of router.yaml's `plugins:`: `module: "package.module:Class"` and the `config:` mapping
    the class is built with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    module: str
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("module")
    @classmethod
    def _import_path(cls, value: str) -> str:
        module, sep, name = value.partition(":")
        if not sep or not module.strip() or not name.strip().isidentifier():
            raise ValueError(f"expected `package.module:Class`, got {value!r}")
        return value.strip()


class PluginLoadError(ValueError):
    """A plugin could not be imported or built (router/config.py answers it as ConfigError)."""


class PluginFailed(Exception):
    """A hook raised: what the request (or the fetch) answers instead, PLUGIN_ERROR."""

    code = PLUGIN_ERROR

    def __init__(self, stage: str) -> None:
        super().__init__(f"a router plugin failed at the {stage.replace('_', ' ')} stage")
        self.stage = stage

    def error(self) -> dict[str, Any]:
        return {"message": str(self), "extensions": {"code": PLUGIN_ERROR}}


class PluginChain:
    """The loaded plugins and, per stage, the hooks they define (an empty stage costs nothing)."""

    def __init__(self, plugins: Sequence[tuple[str, Any]]) -> None:
        self.plugins = tuple(plugins)
        self.router_request = _hooks(self.plugins, "router_request")
        self.subgraph_request = _hooks(self.plugins, "subgraph_request")
        self.subgraph_response = _hooks(self.plugins, "subgraph_response")
        self.router_response = _hooks(self.plugins, "router_response")
        # (plugin, stage) -> refusals / failures so far, read by PluginMetrics on a scrape (plain ints here).
        self.refused: dict[tuple[str, str], int] = {}
        self.failed: dict[tuple[str, str], int] = {}

    @property
    def at_subgraphs(self) -> bool:
        """Whether any plugin hooks the subgraph stages (the subgraph client runs them only then)."""
        return bool(self.subgraph_request or self.subgraph_response)

    async def ask(self, stage: str, hooks: _Hooks, subject: Any) -> Refusal | None:
        """Runs a request stage's `hooks` on `subject` in order: the first Refusal ends it and is answered;
        PluginFailed when one raises."""
        for name, hook in hooks:
            try:
                result = hook(subject)
                if inspect.isawaitable(result):
                    result = await result
            except Refusal as refusal:
                result = refusal
            except Exception as exc:
                raise self._failed(name, stage, exc) from None
            if isinstance(result, Refusal):
                key = (name, stage)
                self.refused[key] = self.refused.get(key, 0) + 1
                return result
        return None

    async def tell(self, stage: str, hooks: _Hooks, subject: Any) -> None:
        """Runs a response stage's `hooks` on `subject` in order; PluginFailed when one raises."""
        for name, hook in hooks:
            try:
                result = hook(subject)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                raise self._failed(name, stage, exc) from None

    def _failed(self, name: str, stage: str, exc: Exception) -> PluginFailed:
        logger.error("router plugin %s failed at %s", name, stage, exc_info=exc)
        key = (name, stage)
        self.failed[key] = self.failed.get(key, 0) + 1
        return PluginFailed(stage)

    async def close(self) -> None:
        for name, plugin in self.plugins:
            close = getattr(plugin, "close", None)
            if close is None:
                continue
            try:
                result = close()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("router plugin %s failed to close", name)


def _hooks(plugins: Sequence[tuple[str, Any]], stage: str) -> _Hooks:
    found = []
    for name, plugin in plugins:
        hook = getattr(plugin, stage, None)
        if callable(hook):
            found.append((name, hook))
    return tuple(found)


class PluginMetrics(Collector):
    """On `/metrics`: refusals and failures (a hook that raised) by plugin and stage."""

    def __init__(self, chain: PluginChain) -> None:
        self.chain = chain

    def collect(self) -> Iterator[Metric]:
        for name, help_text, counts in (
            (
                "myshop_router_plugin_refusals",
                "Requests or fetches a plugin hook refused.",
                self.chain.refused,
            ),
            (
                "myshop_router_plugin_failures",
                "Plugin hooks that raised (answered PLUGIN_ERROR).",
                self.chain.failed,
            ),
        ):
            family = CounterMetricFamily(name, help_text, labels=["service", "plugin", "stage"])
            for (plugin, stage), count in sorted(counts.items()):
                family.add_metric(["router", plugin, stage], count)
            yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


def load_plugins(specs: Sequence[PluginSpec]) -> PluginChain:
    """Imports and builds each plugin; PluginLoadError naming the first that cannot be."""
    plugins = []
    for spec in specs:
        module_name, _, class_name = spec.module.partition(":")
        try:
            module = _import(module_name)
        except Exception as exc:
            raise PluginLoadError(
                f"plugin {spec.module}: cannot import {module_name}: {type(exc).__name__}: {exc}"
            ) from exc
        factory = getattr(module, class_name, None)
        if not callable(factory):
            raise PluginLoadError(f"plugin {spec.module}: {module_name} has no class {class_name}")
        try:
            plugin = factory(dict(spec.config))
        except Exception as exc:
            raise PluginLoadError(
                f"plugin {spec.module}: {class_name}(config) failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not any(callable(getattr(plugin, stage, None)) for stage in STAGES):
            raise PluginLoadError(f"plugin {spec.module} defines none of the hooks {', '.join(STAGES)}")
        plugins.append((spec.module, plugin))
    return PluginChain(plugins)


def _import(module_name: str) -> Any:
    """The module, from the installed packages or, as `python -m` would find it, the working directory
    (appended, so it never shadows an installed package)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        top = module_name.partition(".")[0]
        if exc.name != top or cwd in sys.path or "" in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(module_name)
