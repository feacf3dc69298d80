"""Authentication at the edge: with users' JWKS configured, the router refuses a bad bearer token with
UNAUTHENTICATED (401) before any subgraph is called, and passes good tokens and anonymous requests on."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standin import StandIn

from shared.app import create_subgraph_app
from shared.auth import KeyRing, TokenIssuer
from shared.auth.keys import SigningKey
from shared.testing import ServerThread
from subgraphs import registry

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
ME = "{ me { id } }"
PRODUCTS = "{ products(first: 1) { totalCount } }"
CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"


def stack_router(start_router: Any, stack: Any, **urls: str) -> ServerThread:
    subgraph_urls = {name: f"{server.url}/graphql" for name, server in stack.servers.items()} | urls
    jwks_url = f"{stack.url('users')}/.well-known/jwks.json"
    return start_router(SUPERGRAPH, subgraph_urls=subgraph_urls, jwks_url=jwks_url)


@pytest.fixture(scope="module")
def router(stack: Any, start_router: Any) -> ServerThread:
    return stack_router(start_router, stack)


@pytest.fixture(scope="module")
def subgraph_side() -> Iterator[tuple[ServerThread, StandIn]]:
    recorder = StandIn(data={})
    server = ServerThread(recorder).start()
    yield server, recorder
    server.stop()


@pytest.fixture(scope="module")
def blind_router(stack: Any, subgraph_side: tuple[ServerThread, StandIn], start_router: Any) -> ServerThread:
    """Every subgraph URL is one stand-in that records requests: what reaches "the subgraphs" is on record."""
    url = f"{subgraph_side[0].url}/graphql"
    return stack_router(start_router, stack, **{name: url for name in stack.servers})


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


def _foreign_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims_of(segment: str) -> dict[str, Any]:
    return orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def resigned(issuer: Any, **claims: Any) -> str:
    """A token signed with the real key but with `claims` changed (expired, another audience, ...)."""
    now = int(time.time())
    payload = {"iss": issuer.issuer, "aud": issuer.audience, "sub": str(uuid.uuid4()), "roles": ["CUSTOMER"],
               "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex, **claims}  # fmt: skip
    return jwt.encode(payload, issuer.key.private_key, algorithm="EdDSA", headers={"kid": issuer.key.kid})


@pytest.mark.parametrize(
    "case",
    [
        "garbage",
        "wrong scheme",
        "tampered",
        "foreign key",
        "unknown kid",
        "alg none",
        "expired",
        "other audience",
        "other issuer",
    ],
)
async def test_a_bad_token_is_refused_before_any_subgraph_is_called(
    blind_router: ServerThread,
    subgraph_side: tuple[ServerThread, StandIn],
    issuer: Any,
    case: str,
) -> None:
    now = int(time.time())
    claims = {"iss": issuer.issuer, "aud": issuer.audience, "sub": str(uuid.uuid4()), "roles": ["ADMIN"],
              "iat": now, "nbf": now, "exp": now + 300}  # fmt: skip
    good = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token
    header, payload, signature = good.split(".")
    token, scheme = {
        "garbage": ("not.a.token", "Bearer"),
        "wrong scheme": (good, "Basic"),
        # The claims of a real token changed (CUSTOMER → ADMIN) under its original signature.
        "tampered": (
            f"{header}.{_b64(orjson.dumps(_claims_of(payload) | {'roles': ['ADMIN']}))}.{signature}",
            "Bearer",
        ),
        "foreign key": (forged(issuer), "Bearer"),
        "unknown kid": (
            jwt.encode(claims, _foreign_key(), algorithm="EdDSA", headers={"kid": "no-such-kid"}),
            "Bearer",
        ),
        "alg none": (jwt.encode(claims, None, algorithm="none", headers={"kid": issuer.key.kid}), "Bearer"),
        "expired": (resigned(issuer, exp=now - 3600, iat=now - 7200), "Bearer"),
        "other audience": (resigned(issuer, aud="someone-else"), "Bearer"),
        "other issuer": (resigned(issuer, iss="https://evil.example"), "Bearer"),
    }[case]
    recorder = subgraph_side[1]
    before = len(recorder.received)

    response = await post(blind_router, PRODUCTS, token, scheme)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]
    assert "data" not in body
    # and on the subgraphs' side, nothing arrived
    assert len(recorder.received) == before


async def test_the_recording_subgraph_sees_requests_that_pass_the_edge(
    blind_router: ServerThread, subgraph_side: tuple[ServerThread, StandIn], issuer: Any
) -> None:
    # The control of the test above: a good token does reach "the subgraphs".
    recorder = subgraph_side[1]
    before = len(recorder.received)

    response = await post(blind_router, PRODUCTS, issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token)

    assert response.status_code == 200
    assert len(recorder.received) == before + 1


async def test_a_good_token_reaches_the_subgraphs_with_its_header(
    router: ServerThread, api: Any, issuer: Any
) -> None:
    email = f"edge-{uuid.uuid4().hex[:6]}@example.com"
    async with httpx.AsyncClient(timeout=30) as client:
        await client.post(
            f"{router.url}/graphql",
            json={
                "query": "mutation($i: RegisterInput!) { register(input: $i) { email } }",
                "variables": {"i": {"email": email, "password": "correct horse battery", "name": "Edge"}},
            },
        )
        signed_in = await client.post(
            f"{router.url}/graphql",
            json={
                "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) "
                "{ accessToken user { id } } }",
                "variables": {"e": email, "p": "correct horse battery"},
            },
        )
    account = signed_in.json()["data"]["login"]

    response = await post(router, ME, account["accessToken"])

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"id": account["user"]["id"]}}}


async def test_anonymous_requests_pass_to_public_fields(router: ServerThread, gql: Any, issuer: Any) -> None:
    # Given a catalog (emptied before, by `gql`) of three products, more than the page of one asked for
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    for _ in range(3):
        sku = f"EDGE-{uuid.uuid4().hex[:10].upper()}"
        product = {"sku": sku, "name": f"Edge {sku}", "description": "",
                   "price": {"amount": 500, "currency": "USD"}, "category": "Tests"}  # fmt: skip
        (await gql("products", CREATE_PRODUCT, {"input": product}, token=admin)).ok()

    response = await post(router, PRODUCTS)

    assert response.status_code == 200
    assert response.json() == {"data": {"products": {"totalCount": 3}}}


def _users_signing_with(
    key: Ed25519PrivateKey, retired: Ed25519PrivateKey | None = None, port: int = 0
) -> Any:
    """A users server signing with `key` (`retired`'s public key still published), as in production."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    retired_pem = None
    if retired is not None:
        retired_pem = (
            retired.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
    settings = registry.load("users").settings_class(
        jwt_private_key=pem, jwt_retired_public_keys=retired_pem, jwks_url="", service_token_url=""
    )
    return ServerThread(create_subgraph_app(registry.load("users"), settings), port=port).start()


def _token_signed_with(key: Ed25519PrivateKey, issuer: Any) -> str:
    signer = TokenIssuer(
        KeyRing(SigningKey.from_private_key(key), []),
        issuer=issuer.issuer,
        audience=issuer.audience,
        ttl_seconds=300,
    )
    return signer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token


async def test_a_key_rotation_on_users_is_picked_up_without_restarting_the_router(
    stack: Any, issuer: Any, start_router: Any
) -> None:
    # Given users signing with key A, and a router verifying against users' JWKS
    key_a, key_b = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    users = _users_signing_with(key_a)
    subgraph_urls = {name: f"{server.url}/graphql" for name, server in stack.servers.items()}
    router = start_router(
        SUPERGRAPH,
        subgraph_urls=subgraph_urls,
        jwks_url=f"{users.url}/.well-known/jwks.json",
        jwks_refresh_seconds=0.2,
    )
    try:
        assert (await post(router, PRODUCTS, _token_signed_with(key_a, issuer))).status_code == 200
        assert (await post(router, PRODUCTS, _token_signed_with(key_b, issuer))).status_code == 401

        # When users restarts at the same address signing with key B, key A retired but still published
        port = users.port
        users.stop()
        users = _users_signing_with(key_b, retired=key_a, port=port)
        await asyncio.sleep(0.3)  # past the router's refresh interval for unknown kids

        # Then the same router process accepts tokens of the new key, and still those of the retired one
        assert (await post(router, PRODUCTS, _token_signed_with(key_b, issuer))).status_code == 200
        assert (await post(router, PRODUCTS, _token_signed_with(key_a, issuer))).status_code == 200
    finally:
        router.stop()
        users.stop()
