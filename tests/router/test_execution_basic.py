"""Executing plans against real stand-in subgraphs (small Strawberry federation apps on loopback):
merged answers in the client's shape, error paths in the client's terms, partial failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import strawberry
from strawberry.asgi import GraphQL

from router.pipeline.errors import RequestError
from router.pipeline.gateway import Gateway
from shared.composition import compose
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    name: str

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return User(id=id, name=f"name-{id}")


@strawberry.type
class AccountsQuery:
    @strawberry.field
    def me(self) -> User:
        return User(id=strawberry.ID("u1"), name="name-u1")

    @strawberry.field
    def users(self) -> list[User | None]:
        return [User(id=strawberry.ID(f"u{i}"), name=f"name-u{i}") for i in (1, 2, 1)]


@strawberry.type
class Review:
    body: str


@strawberry.federation.type(keys=["id"], name="User")
class ReviewsUser:
    id: strawberry.ID

    @strawberry.field
    def reviews(self) -> list[Review] | None:
        return [Review(body=f"review of {self.id}")]

    @strawberry.field
    def secret(self) -> str | None:
        raise ValueError("no access")

    @strawberry.field
    def karma(self) -> int:
        raise ValueError("karma unavailable")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> ReviewsUser:
        return ReviewsUser(id=id)


@strawberry.type
class ReviewsQuery:
    @strawberry.field
    def review_count(self) -> int:
        return 2


accounts_schema = strawberry.federation.Schema(query=AccountsQuery, types=[User])
reviews_schema = strawberry.federation.Schema(query=ReviewsQuery, types=[ReviewsUser])


def _asgi(schema: strawberry.federation.Schema) -> object:
    """Strawberry's ASGI app, answering uvicorn's lifespan messages itself."""
    graphql_app = GraphQL(schema)

    async def app(scope: dict, receive: object, send: object) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()  # type: ignore[operator]
                kind = message["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})  # type: ignore[operator]
                if kind == "shutdown":
                    return
        await graphql_app(scope, receive, send)  # type: ignore[arg-type]

    return app


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ServerThread]]:
    started = {
        "accounts": ServerThread(_asgi(accounts_schema)).start(),
        "reviews": ServerThread(_asgi(reviews_schema)).start(),
    }
    yield started
    for server in started.values():
        if server.thread.is_alive():
            server.stop()


@pytest.fixture(scope="module")
def supergraph(servers: dict[str, ServerThread]) -> str:
    return compose(
        [
            ("accounts", servers["accounts"].url + "/graphql", accounts_schema.as_str()),
            ("reviews", servers["reviews"].url + "/graphql", reviews_schema.as_str()),
        ],
        repo_root=REPO,
    )


async def test_answer_merges_two_subgraphs_in_client_order_with_aliases(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    try:
        result = await gateway.execute("{ me { who: name reviews { body } __typename id } }")
    finally:
        await gateway.close()
    assert result == {
        "data": {
            "me": {"who": "name-u1", "reviews": [{"body": "review of u1"}], "__typename": "User", "id": "u1"}
        }
    }
    assert list(result["data"]["me"]) == ["who", "reviews", "__typename", "id"]


async def test_entity_errors_carry_the_client_path(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    try:
        result = await gateway.execute("{ users { id secret } }")
    finally:
        await gateway.close()
    assert result["data"] == {
        "users": [{"id": "u1", "secret": None}, {"id": "u2", "secret": None}, {"id": "u1", "secret": None}]
    }
    paths = sorted(e["path"] for e in result["errors"])
    assert paths == [["users", 0, "secret"], ["users", 1, "secret"], ["users", 2, "secret"]]


async def test_null_in_a_non_null_field_bubbles_to_the_nullable_parent(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    try:
        result = await gateway.execute("{ users { id karma } }")
    finally:
        await gateway.close()
    assert result["data"] == {"users": [None, None, None]}
    assert [e["path"] for e in result["errors"]] == [
        ["users", 0, "karma"],
        ["users", 2, "karma"],
        ["users", 1, "karma"],
    ]


async def test_variables_of_the_wrong_type_are_bad_user_input(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    with pytest.raises(RequestError) as raised:
        await gateway.execute("query ($b: Boolean!) { me { id @include(if: $b) } }", {"b": "x"})
    await gateway.close()
    assert raised.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_mutation_over_get_is_refused_with_405(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    with pytest.raises(RequestError) as raised:
        await gateway.execute("mutation { x }", method="GET")
    await gateway.close()
    assert raised.value.errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_introspection_is_answered_by_the_router(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    try:
        result = await gateway.execute('{ __type(name: "User") { fields { name } } __typename }')
    finally:
        await gateway.close()
    names = [f["name"] for f in result["data"]["__type"]["fields"]]
    assert names == ["id", "name", "reviews", "secret", "karma"]
    assert result["data"]["__typename"] == "Query"


async def test_client_request_headers_do_not_break_subgraph_requests(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    try:
        result = await gateway.execute(
            "{ me { name } }", headers={"content-length": "999", "host": "router", "x-request-id": "r1"}
        )
    finally:
        await gateway.close()
    assert result == {"data": {"me": {"name": "name-u1"}}}


async def test_a_stopped_subgraph_costs_only_the_fields_depending_on_it(
    servers: dict[str, ServerThread], supergraph: str
) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    servers["reviews"].stop()
    try:
        result = await gateway.execute("{ me { name reviews { body } } }")
    finally:
        await gateway.close()
    assert result["data"] == {"me": {"name": "name-u1", "reviews": None}}
    assert result["errors"][0]["extensions"]["code"] == "SUBREQUEST_HTTP_ERROR"
    assert result["errors"][0]["extensions"]["service"] == "reviews"
