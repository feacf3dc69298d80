"""Authentication at the edge: with users' JWKS configured, the router refuses a bad bearer token with
UNAUTHENTICATED (401) before any subgraph is called, and passes good tokens and anonymous requests on."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
ME = "{ me { id } }"
PRODUCTS = "{ products(first: 1) { totalCount } }"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/graphql"


def start_router(stack: Any, **urls: str) -> ServerThread:
    subgraph_urls = {name: f"{server.url}/graphql" for name, server in stack.servers.items()} | urls
    config = RouterConfig(
        graphiql=False,
        subgraph_urls=subgraph_urls,
        jwks_url=f"{stack.url('users')}/.well-known/jwks.json",
    )
    return ServerThread(create_app(build_gateway(SUPERGRAPH, config), config)).start()


@pytest.fixture(scope="module")
def router(stack: Any) -> Iterator[ServerThread]:
    server = start_router(stack)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def blind_router(stack: Any) -> Iterator[ServerThread]:
    """Every subgraph URL closed: any answer but a subgraph error proves nothing was fetched."""
    server = start_router(stack, **{name: closed_port_url() for name in stack.servers})
    yield server
    server.stop()


async def post(
    server: ServerThread, query: str, token: str | None = None, scheme: str = "Bearer"
) -> httpx.Response:
    headers = {"authorization": f"{scheme} {token}"} if token is not None else {}
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{server.url}/graphql", json={"query": query}, headers=headers)


def forged(issuer: Any, **claims: Any) -> str:
    """A token like the issuer's, with `claims` changed, signed by a key the users service never had."""
    now = int(time.time())
    payload = {"iss": issuer.issuer, "aud": issuer.audience, "sub": str(uuid.uuid4()), "roles": ["ADMIN"],
               "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex, **claims}  # fmt: skip
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": issuer.key.kid})


def resigned(issuer: Any, **claims: Any) -> str:
    """A token signed with the real key but with `claims` changed (expired, another audience, ...)."""
    now = int(time.time())
    payload = {"iss": issuer.issuer, "aud": issuer.audience, "sub": str(uuid.uuid4()), "roles": ["CUSTOMER"],
               "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex, **claims}  # fmt: skip
    return jwt.encode(payload, issuer.key.private_key, algorithm="EdDSA", headers={"kid": issuer.key.kid})


@pytest.mark.parametrize(
    "case",
    ["garbage", "wrong scheme", "foreign key", "expired", "other audience", "other issuer"],
)
async def test_a_bad_token_is_refused_before_any_subgraph_is_called(
    blind_router: ServerThread, issuer: Any, case: str
) -> None:
    token, scheme = {
        "garbage": ("not.a.token", "Bearer"),
        "wrong scheme": (issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token, "Basic"),
        "foreign key": (forged(issuer), "Bearer"),
        "expired": (resigned(issuer, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), "Bearer"),
        "other audience": (resigned(issuer, aud="someone-else"), "Bearer"),
        "other issuer": (resigned(issuer, iss="https://evil.example"), "Bearer"),
    }[case]

    response = await post(blind_router, PRODUCTS, token, scheme)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]
    assert "data" not in body


async def test_a_good_token_reaches_the_subgraphs_with_its_header(
    router: ServerThread, api: Any, issuer: Any
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        registered = await client.post(
            f"{router.url}/graphql",
            json={
                "query": "mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }",
                "variables": {
                    "i": {
                        "email": f"edge-{uuid.uuid4().hex[:6]}@example.com",
                        "password": "correct horse battery",
                        "name": "Edge",
                    }
                },
            },
        )
    account = registered.json()["data"]["register"]

    response = await post(router, ME, account["accessToken"])

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"id": account["user"]["id"]}}}


async def test_anonymous_requests_pass_to_public_fields(router: ServerThread, api: Any) -> None:
    response = await post(router, PRODUCTS)

    assert response.status_code == 200
    assert response.json()["data"]["products"]["totalCount"] >= 0
