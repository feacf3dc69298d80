"""Forged tokens get nothing through the router (issue 13: these already held; they must keep holding).

An admin's `createProduct` with a forged ADMIN token, sent through a router over the real subgraphs:
UNAUTHENTICATED and no product written. With the router validating at the edge (as `myshop up` runs it) the
two forgeries the edge tests do not try (tests/router/test_server_edge_auth.py tries tampered, alg none,
expired, foreign key, unknown kid, other audience and issuer): HS256 keyed with the public key, and a `jku`
header pointing at the attacker's own key set. With the edge check off, every forgery reaches the subgraphs,
which must refuse it themselves (ARCHITECTURE.md: every subgraph validates the token again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from security_client import ask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.auth import TokenIssuer
from shared.testing import ServerThread

CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
PRODUCTS = "{ products(first: 100, includeArchived: true) { totalCount } }"
FORGERIES = ["tampered", "alg none", "HS256 with the public key", "jku to the attacker's keys", "expired"]


class AttackerKeys:
    """The attacker's key and a server publishing it as a JWKS; it records every fetch."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = "attacker"
        self.fetches = 0
        jwk = json.loads(OKPAlgorithm.to_jwk(self.key.public_key())) | {"kid": self.kid, "alg": "EdDSA"}

        async def jwks(_request: Request) -> JSONResponse:
            self.fetches += 1
            return JSONResponse({"keys": [jwk]})

        self.server = ServerThread(Starlette(routes=[Route("/jwks.json", jwks)]))

    @property
    def url(self) -> str:
        return f"{self.server.url}/jwks.json"


@pytest.fixture(scope="module")
def attacker() -> Iterator[AttackerKeys]:
    keys = AttackerKeys()
    keys.server.start()
    yield keys
    keys.server.stop()


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def admin_claims(issuer: TokenIssuer, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": issuer.issuer, "aud": issuer.audience, "sub": str(uuid.uuid4()), "roles": ["ADMIN"],
            "iat": now, "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex, **changes}  # fmt: skip


def forge(case: str, issuer: TokenIssuer, attacker: AttackerKeys) -> str:
    """An ADMIN token made without the users service's private key (or one it signed, expired)."""
    kid = issuer.key.kid
    if case == "tampered":
        # A real CUSTOMER token with its claims promoted to ADMIN under the original signature.
        header, payload, signature = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return f"{header}.{b64(json.dumps(claims | {'roles': ['ADMIN']}).encode())}.{signature}"
    if case == "alg none":
        return jwt.encode(admin_claims(issuer), None, algorithm="none", headers={"kid": kid})
    if case == "HS256 with the public key":
        # The classic key confusion: the public key (anyone can fetch it from the JWKS) as the HMAC secret.
        public_pem = issuer.key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        signing_input = f"{header}.{b64(json.dumps(admin_claims(issuer)).encode())}"
        return f"{signing_input}.{b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"
    if case == "jku to the attacker's keys":
        headers = {"kid": attacker.kid, "jku": attacker.url}
        return jwt.encode(admin_claims(issuer), attacker.key, algorithm="EdDSA", headers=headers)
    assert case == "expired"
    now = int(time.time())
    return jwt.encode(
        admin_claims(issuer, iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        issuer.key.private_key,
        algorithm="EdDSA",
        headers={"kid": kid},
    )


def product_input() -> dict[str, Any]:
    return {"sku": f"FORGED-{uuid.uuid4().hex[:8].upper()}", "name": "Forged", "description": "",
            "price": {"amount": 1, "currency": "USD"}, "category": "Forged"}  # fmt: skip


@pytest.fixture(scope="module")
def routers(start_router: Callable[..., ServerThread]) -> dict[str, ServerThread]:
    return {"edge checks tokens": start_router(), "edge passes tokens on": start_router(jwks_url="")}


@pytest.mark.parametrize(
    ("edge", "case"),
    [("edge checks tokens", case) for case in FORGERIES[2:4]]
    + [("edge passes tokens on", case) for case in FORGERIES],
)
async def test_a_forged_admin_token_creates_nothing_through_the_router(
    routers: dict[str, ServerThread],
    api: Any,
    issuer: TokenIssuer,
    attacker: AttackerKeys,
    edge: str,
    case: str,
) -> None:
    # Given a forged ADMIN token (and a real admin's, for the control below)
    router, token = routers[edge], forge(case, issuer, attacker)
    fetches = attacker.fetches

    # When it asks the router to create a product
    forged = await ask(router, CREATE, {"input": product_input()}, token=token)

    # Then it is refused as unauthenticated, nothing is written, and the attacker's key set is never fetched
    assert forged.codes == ["UNAUTHENTICATED"], forged.body
    assert not forged.data
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    assert (await ask(router, PRODUCTS, token=admin)).ok()["products"]["totalCount"] == 0
    assert attacker.fetches == fetches
    # The control: a real admin's token creates one through the same router.
    (await ask(router, CREATE, {"input": product_input()}, token=admin)).ok()
    assert (await ask(router, PRODUCTS, token=admin)).ok()["products"]["totalCount"] == 1
