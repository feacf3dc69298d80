"""Incremental delivery (@defer): runs a Defer plan (router/planner/defer.py) and yields its parts as
deferSpec=20220824 describes them. The primary part goes as soon as its plan is done; then every deferred
fragment runs at once against the primary's merged data, and each is a part of its own when its fetches are
done (its own errors; one item per object at its path), fragments deferred inside it after it.

    {"data": {...}, "hasNext": true}
    {"incremental": [{"data": {...}, "path": ["t", 0], "label": "...", "errors": [...]}], "hasNext": false}
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from router.execution.executor import GATEWAY_TIMEOUT, Executor
from router.execution.paths import collect
from router.execution.shaper import Shaper
from router.planner.nodes import Defer, Deferred
from router.planner.operation import Operation, conditions_hold

logger = logging.getLogger(__name__)


class IncrementalStream:
    """One operation's parts: ``async for part in stream``; ``aclose()`` (always call it) cancels the
    deferred fragments still running. Nothing runs until the first part is asked for."""

    def __init__(
        self,
        executor: Executor,
        shaper: Shaper,
        operation: Operation,
        defer: Defer,
        variables: Mapping[str, Any],
        headers: Mapping[str, str] | None,
        *,
        time_limit: float | None = None,
        local: Mapping[str, Any] | None = None,
        local_errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self._executor = executor
        self._shaper = shaper
        self._operation = operation
        self._defer = defer
        self._variables = variables
        self._headers = headers
        self._time_limit = time_limit
        self._local = local
        self._local_errors = local_errors or []
        self._deadline: float | None = None
        self._data: dict[str, Any] = {}  # the merged data every part's fetches add to
        self._shaped: dict[str, Any] | None = None  # the response so far: where a part may land
        self._parts: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending = 0  # deferred parts not yet sent
        self._started = False
        # Why the stream ended ("complete"), None while open: the doors read it as they read a subscription's.
        self.ended_by: str | None = None

    def __aiter__(self) -> IncrementalStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if not self._started:
            self._started = True
            return await self._primary()
        if self._pending == 0 and self._parts.empty():
            self.ended_by = "complete"
            raise StopAsyncIteration
        return await self._parts.get()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return self._deadline - asyncio.get_running_loop().time()

    async def _primary(self) -> dict[str, Any]:
        if self._time_limit is not None:
            self._deadline = asyncio.get_running_loop().time() + self._time_limit
        defer = self._defer
        operation = self._operation
        _, errors = await self._executor.run(
            defer.primary, self._variables, self._headers, data=self._data, time_limit=self._time_limit
        )
        errors = [*self._local_errors, *errors]
        shaped = self._shaper.shape(
            defer.selections, self._data, operation.root_type, self._variables, self._local, errors=errors
        )
        self._shaped = shaped
        part: dict[str, Any] = {"data": shaped}
        if errors:
            part["errors"] = errors
        if shaped is not None:
            self._spawn(defer.deferred)
        part["hasNext"] = self._pending > 0
        return part

    def _spawn(self, blocks: list[Deferred]) -> None:
        for block in blocks:
            if not conditions_hold(block.conditions, self._variables):
                continue
            self._pending += 1
            task = asyncio.create_task(self._deferred(block))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deferred(self, block: Deferred) -> None:
        node = block.node
        nested: list[Deferred] = []
        if isinstance(node, Defer):
            node, nested = node.primary, node.deferred
        try:
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                errors = [_timed_out(self._time_limit)]
            else:
                _, errors = await self._executor.run(
                    node, self._variables, self._headers, data=self._data, time_limit=remaining
                )
            items = self._items(block, errors)
        except Exception:
            logger.exception("a deferred part failed")
            error = {"message": "Internal server error", "extensions": {"code": "INTERNAL"}}
            items = [{"data": None, "path": _printable(block.path), "errors": [error]}]
        self._pending -= 1
        if any(item.get("data") is not None for item in items):
            self._spawn(nested)
        if items:
            self._parts.put_nowait({"incremental": items, "hasNext": self._pending > 0})
        elif self._pending == 0:  # nothing to add (its objects were null): the last part still says so
            self._parts.put_nowait({"hasNext": False})

    def _items(self, block: Deferred, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One item per object at the part's path that the response so far holds (a parent null-bubbled away
        gets none), the fragment shaped on it; each error goes with the item its path is under."""
        located: list[tuple[dict[str, Any], list[Any]]] = []
        collect(self._data, block.path, 0, [], located)
        typed = _type_condition(block)
        items: list[dict[str, Any]] = []
        for value, path in located:
            target = _at(self._shaped, path)
            if not isinstance(target, dict):
                continue
            if typed is not None and not self._applies(typed, value):
                continue
            shaped = self._shaper.shape(
                block.selections, value, block.parent_type, self._variables, errors=errors, at=path
            )
            item: dict[str, Any] = {"data": shaped, "path": path}
            if block.label is not None:
                item["label"] = block.label
            items.append(item)
            if shaped is not None:
                _merge(target, shaped)
        for error in errors:
            path = error.get("path") if isinstance(error, dict) else None
            owner = None
            if isinstance(path, list):
                owner = next((i for i in items if path[: len(i["path"])] == i["path"]), None)
            if owner is None:
                if not items:
                    items.append({"data": None, "path": _printable(block.path)})
                owner = items[0]
            owner.setdefault("errors", []).append(error)
        return items

    def _applies(self, type_condition: str, value: dict[str, Any]) -> bool:
        runtime = value.get("__typename")
        if not isinstance(runtime, str):
            return True
        supergraph = self._shaper.supergraph
        return runtime == type_condition or runtime in supergraph.runtime_types(type_condition)


def _type_condition(block: Deferred) -> str | None:
    """The deferred fragment's type condition where it narrows the objects at its path, else None."""
    fragment = block.selections[0] if len(block.selections) == 1 else None
    condition = getattr(fragment, "type_condition", None)
    return condition if condition is not None and condition != block.parent_type else None


def _at(root: Any, path: list[Any]) -> Any:
    for step in path:
        if isinstance(root, dict) and isinstance(step, str):
            root = root.get(step)
        elif isinstance(root, list) and isinstance(step, int) and step < len(root):
            root = root[step]
        else:
            return None
    return root


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    """Adds a part's data to the response so far, where fragments deferred inside it will land."""
    for key, value in source.items():
        existing = target.get(key)
        if isinstance(existing, dict) and isinstance(value, dict):
            _merge(existing, value)
        elif isinstance(existing, list) and isinstance(value, list) and len(existing) == len(value):
            for a, b in zip(existing, value, strict=True):
                if isinstance(a, dict) and isinstance(b, dict):
                    _merge(a, b)
        else:
            target[key] = value


def _printable(path: tuple[str, ...]) -> list[Any]:
    return [step for step in path if step != "@"]


def _timed_out(time_limit: float | None) -> dict[str, Any]:
    return {
        "message": f"the request did not complete within {time_limit:g} s",
        "extensions": {"code": GATEWAY_TIMEOUT},
    }
