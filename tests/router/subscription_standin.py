"""Stand-in subgraphs for the multipart and shared subscription tests: an "orders" Strawberry subgraph whose
`orderUpdates` feed publishes what `setOrderStatus` changes (and `ticks`, a refusal, a lost connection), and
a "users" subgraph completing `User.email` with `_entities`; both real ASGI apps on loopback, composed with
our composition tool. What the subgraphs saw is counted here (open feeds by token, entity fetches)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.asgi import GraphQL
from strawberry.federation.schema_directives import Key
from strawberry.types import Info

from shared.composition import compose
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]


class Seen:
    """What the stand-ins saw (written on their server threads, read by the tests)."""

    open_feeds: Counter[str | None] = Counter()  # open `orderUpdates` generators, by the token they got
    feeds_started = 0
    entity_fetches = 0
    listeners: set[asyncio.Queue[Any]] = set()  # the open feeds' queues (on the orders server's loop)
    cursor = 0


@strawberry.federation.type(keys=[Key(fields="id", resolvable=False)])
class User:
    id: strawberry.ID


@strawberry.federation.type(keys=["id"])
class Order:
    id: strawberry.ID
    status: str
    user: User


@strawberry.type
class OrderUpdate:
    cursor: str
    status: str
    previous_status: str | None
    order: Order


def _order(order_id: str, status: str) -> Order:
    return Order(id=strawberry.ID(order_id), status=status, user=User(id=strawberry.ID(f"owner-{order_id}")))


@strawberry.type
class OrdersQuery:
    @strawberry.field
    def order(self, id: strawberry.ID) -> Order:
        return _order(id, "PENDING")


@strawberry.type
class OrdersMutation:
    @strawberry.mutation
    def set_order_status(self, order_id: strawberry.ID, status: str, previous_status: str = "PENDING") -> int:
        """Publishes a status change to every open `orderUpdates` feed; answers how many got it."""
        Seen.cursor += 1
        update = OrderUpdate(
            cursor=str(Seen.cursor),
            status=status,
            previous_status=previous_status,
            order=_order(order_id, status),
        )
        for queue in list(Seen.listeners):
            queue.put_nowait(update)
        return len(Seen.listeners)


@strawberry.type
class OrdersSubscription:
    @strawberry.subscription
    async def order_updates(self, info: Info, after: str | None = None) -> AsyncGenerator[OrderUpdate, None]:
        token = (info.context.get("connection_params") or {}).get("Authorization")
        queue: asyncio.Queue[OrderUpdate] = asyncio.Queue()
        Seen.listeners.add(queue)
        Seen.open_feeds[token] += 1
        Seen.feeds_started += 1
        try:
            while True:
                yield await queue.get()
        finally:
            Seen.listeners.discard(queue)
            Seen.open_feeds[token] -= 1

    @strawberry.subscription
    async def ticks(self, size: int = 0, pause: float = 0.0, count: int = -1) -> AsyncGenerator[str, None]:
        n = 0
        while n != count:
            n += 1
            yield f"{n}:" + "x" * size
            await asyncio.sleep(pause)

    @strawberry.subscription
    async def forbidden(self) -> AsyncGenerator[str, None]:
        raise GraphQLError("not your order", extensions={"code": "FORBIDDEN"})
        yield ""  # pragma: no cover  (makes this a generator)

    @strawberry.subscription
    async def hang_up(self, info: Info, delay: float = 0.0) -> AsyncGenerator[str, None]:
        await asyncio.sleep(delay)
        yield "bye"
        await info.context["request"].close(code=1011)
        await asyncio.sleep(10)
        yield "never"


orders_schema = strawberry.federation.Schema(
    query=OrdersQuery, mutation=OrdersMutation, subscription=OrdersSubscription, types=[Order, User]
)


@strawberry.federation.type(keys=["id"], name="User")
class FullUser:
    id: strawberry.ID
    email: str

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> FullUser:
        Seen.entity_fetches += 1
        return FullUser(id=id, email=f"{id}@example.com")


@strawberry.type
class UsersQuery:
    @strawberry.field
    def user_count(self) -> int:
        return 1


users_schema = strawberry.federation.Schema(query=UsersQuery, types=[FullUser])


def _asgi(app: Any) -> Any:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                kind = (await receive())["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        await app(scope, receive, send)

    return asgi


def supergraph() -> str:
    """The stand-ins' supergraph, composed once per machine (Node's composition costs ~2 s) over placeholder
    URLs: a router serving it gets `subgraph_urls` (`urls(servers)`)."""
    parts = [
        ("orders", "http://orders.invalid/graphql", orders_schema.as_str()),
        ("users", "http://users.invalid/graphql", users_schema.as_str()),
    ]
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    cached = Path(tempfile.gettempdir()) / f"myshop-subscription-standin-{digest}.graphql"
    if cached.exists():
        return cached.read_text()
    sdl = compose(parts, repo_root=REPO)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(sdl)
    partial.replace(cached)  # atomic: another worker composing at the same time writes the same text
    return sdl


def urls(servers: dict[str, ServerThread]) -> dict[str, str]:
    return {name: server.url + "/graphql" for name, server in servers.items()}


@contextmanager
def order_subgraphs() -> Iterator[dict[str, ServerThread]]:
    """The two stand-ins, started."""
    servers = {
        "orders": ServerThread(_asgi(GraphQL(orders_schema))).start(),
        "users": ServerThread(_asgi(GraphQL(users_schema))).start(),
    }
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()
