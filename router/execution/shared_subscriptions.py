"""One upstream subscription per identical (subgraph, operation, variables, credentials), shared by every
client asking for it: the first subscriber opens it, the last to leave closes it, a late joiner gets the
events from then on. Each event is completed (the plan's Rest) and shaped once, then fanned out to each
client's bounded queue; a client that falls behind is let go (SlowConsumer) and never slows the others; the
upstream ending or failing ends every client with the same last response.

Credentials are every header the router sends to the subgraphs of the plan (router.yaml's rules applied) and
the `Authorization` the subgraph socket's `connection_init` carries: two users never share. The headers of
one request (request id, trace context) and the client address are left out, or no two clients would ever
share (the upstream carries its first subscriber's)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from router.execution.subscription import SlowConsumer, SubscriptionRefused, SubscriptionStream
from router.ops.metrics import UpstreamSubscriptionMetrics
from router.planner.nodes import Fetch, Subscription
from router.upstream.headers import HeaderPropagation
from shared.client_address import FORWARDED_FOR

logger = logging.getLogger(__name__)

# Headers of one request, not of who sends it (and the JSON headers every fetch carries).
PER_REQUEST = frozenset(
    {"x-request-id", "traceparent", "tracestate", FORWARDED_FOR, "content-type", "accept"}
)
_PLANS_REMEMBERED = 256
_INTERNAL = {"message": "the subscription failed in the router", "extensions": {"code": "INTERNAL"}}


def _graphs(node: object) -> Iterator[str]:
    """The graphs a plan node fetches from."""
    if isinstance(node, Fetch):
        yield node.graph
        return
    for name in ("primary", "rest", "node", "if_clause", "else_clause"):
        child = getattr(node, name, None)
        if child is not None:
            yield from _graphs(child)
    for child in getattr(node, "nodes", None) or ():
        yield from _graphs(child)


class SharedSubscriptions:
    """The open upstream subscriptions of one gateway, by key. Off (`enabled=False`), every client gets
    an upstream of its own (the same fan-out of one, so the metrics count them alike)."""

    def __init__(self, *, enabled: bool = True, queue_size: int = 1024) -> None:
        self.enabled = enabled
        self.queue_size = queue_size
        self._upstreams: dict[Hashable, _Shared] = {}
        self.opened: dict[str, int] = {}  # upstream subscriptions opened, by subgraph
        self.joined: dict[str, int] = {}  # clients that joined an upstream already open, by subgraph
        self._plans: dict[int, tuple[Subscription, str]] = {}

    def key(
        self,
        plan: Subscription,
        text: str,
        operation_name: str | None,
        variables: Mapping[str, Any],
        headers: Mapping[str, str] | None,
        propagation: HeaderPropagation,
    ) -> Hashable:
        """What two clients must have in common to share an upstream (a key of its own when sharing is
        off)."""
        if not self.enabled:
            return object()
        credentials: list[tuple[str, str, str]] = []
        for graph in sorted(set(_graphs(plan))):
            sent = propagation.for_subgraph(graph, headers)
            credentials += sorted((graph, k, v) for k, v in sent.items() if k not in PER_REQUEST)
        # The token the subgraph socket's connection_init carries, whatever the rules pass.
        authorization = (headers or {}).get("authorization", "")
        try:
            values = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            values = repr(sorted(variables.items())).encode()
        printed = self._printed(plan)  # the labels drawn for the request may change the plan
        return (plan.primary.graph, text, operation_name, printed, values, authorization, tuple(credentials))

    def _printed(self, plan: Subscription) -> str:
        """The plan as text, remembered per plan object (the plan cache hands out the same one)."""
        seen = self._plans.get(id(plan))
        if seen is not None and seen[0] is plan:
            return seen[1]
        if len(self._plans) >= _PLANS_REMEMBERED:
            self._plans.clear()
        printed = "\n".join(plan.lines(0))
        self._plans[id(plan)] = (plan, printed)  # the plan held, so its id is not reused meanwhile
        return printed

    def subscribe(
        self, key: Hashable, subgraph: str, upstream: Callable[[], SubscriptionStream]
    ) -> SubscriptionStream:
        """A client's stream of the upstream under `key` (on `subgraph`), made by `upstream()` when none is
        open."""
        shared = self._upstreams.get(key)
        if shared is None:
            shared = self._upstreams[key] = _Shared(self, key, subgraph, upstream())
            self.opened[subgraph] = self.opened.get(subgraph, 0) + 1
        else:
            self.joined[subgraph] = self.joined.get(subgraph, 0) + 1
        return shared.join()

    def forget(self, shared: _Shared) -> None:
        if self._upstreams.get(shared.key) is shared:
            del self._upstreams[shared.key]

    def open_by_subgraph(self) -> dict[str, tuple[int, int]]:
        """Subgraph -> (open upstream subscriptions, clients on them)."""
        counts: dict[str, tuple[int, int]] = {}
        for shared in self._upstreams.values():
            upstreams, clients = counts.get(shared.subgraph, (0, 0))
            counts[shared.subgraph] = (upstreams + 1, clients + len(shared.clients))
        return counts

    def register_metrics(self, registry: CollectorRegistry) -> None:
        registry.register(UpstreamSubscriptionMetrics(self.open_by_subgraph, self.opened, self.joined))

    async def close(self) -> None:
        """Ends every upstream (the router stops): its clients end as if the subgraph completed."""
        for shared in list(self._upstreams.values()):
            await shared.shut("complete")


class _End:
    __slots__ = ("reason", "refused")

    def __init__(self, reason: str, refused: list[Any] | None = None) -> None:
        self.reason = reason
        self.refused = refused


class _Shared:
    """One upstream subscription and its clients; its pump (started by the first client to read) reads the
    upstream's shaped events and hands each to every client."""

    def __init__(
        self, owner: SharedSubscriptions, key: Hashable, subgraph: str, upstream: SubscriptionStream
    ) -> None:
        self.owner = owner
        self.key = key
        self.subgraph = subgraph
        self.upstream = upstream
        self.clients: set[_Client] = set()
        self.pump: asyncio.Task[None] | None = None
        self.closed = False

    def join(self) -> _Client:
        client = _Client(self, self.owner.queue_size)
        self.clients.add(client)
        return client

    def start(self) -> None:
        if self.pump is None and not self.closed:
            self.pump = asyncio.create_task(self._run())

    async def _run(self) -> None:
        upstream = self.upstream
        try:
            async for response in upstream:
                for client in list(self.clients):
                    client.deliver(response)
            end = _End(upstream.ended_by or "complete")
        except SubscriptionRefused as refused:
            end = _End("error", refused.errors)
        except Exception:
            logger.exception("a shared subscription failed")
            for client in list(self.clients):
                client.deliver({"data": None, "errors": [_INTERNAL]})
            end = _End("error")
        # The upstream is over: new subscribers open another; these clients drain what they have, then end.
        self.owner.forget(self)
        self.closed = True
        for client in list(self.clients):
            client.finish(end)
        self.clients.clear()
        await upstream.aclose()

    def drop(self, client: _Client) -> None:
        self.clients.discard(client)

    async def leave(self, client: _Client) -> None:
        """`client` is done; the last to leave closes the upstream."""
        self.clients.discard(client)
        if not self.clients and not self.closed:
            await self.shut(None)

    async def shut(self, reason: str | None) -> None:
        self.closed = True
        self.owner.forget(self)
        pump, self.pump = self.pump, None
        if pump is not None and pump is not asyncio.current_task():
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
        if reason is not None:
            for client in list(self.clients):
                client.finish(_End(reason))
            self.clients.clear()
        await self.upstream.aclose()


class _Client(SubscriptionStream):
    """One client's view of a shared upstream: a bounded queue of the shaped events."""

    def __init__(self, shared: _Shared, size: int) -> None:
        self._shared = shared
        self._size = size
        self._queue: deque[dict[str, Any]] = deque()
        self._ready = asyncio.Event()
        self._end: _End | None = None
        self._done = False
        self.ended_by: str | None = None

    def deliver(self, response: dict[str, Any]) -> None:
        if self._end is not None:
            return
        if len(self._queue) >= self._size:  # too far behind: let go, the others go on
            self._queue.clear()
            self._shared.drop(self)
            self.finish(_End("slow_consumer"))
            return
        self._queue.append(response)
        self._ready.set()

    def finish(self, end: _End) -> None:
        if self._end is None:
            self._end = end
        self._ready.set()

    async def __anext__(self) -> dict[str, Any]:
        if self._done:
            raise StopAsyncIteration
        self._shared.start()
        while not self._queue:
            end = self._end
            if end is not None:
                self._done = True
                self.ended_by = end.reason
                if end.reason == "slow_consumer":
                    raise SlowConsumer
                if end.refused is not None:
                    raise SubscriptionRefused(end.refused)
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    async def aclose(self) -> None:
        if self._done and self._shared.closed:
            return
        self._done = True
        self._queue.clear()
        await self._shared.leave(self)
