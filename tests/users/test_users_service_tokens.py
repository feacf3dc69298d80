"""SERVICE tokens by OAuth 2 client credentials at users' `/oauth/token`: the services' shared secret buys a
short-lived token with the SERVICE role (and nothing else does)."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import JwksKeySource, TokenVerifier
from shared.settings import DEV_SERVICE_SECRET


async def token_response(
    api: Any, http: httpx.AsyncClient, client: str, secret: str, **form: str
) -> httpx.Response:
    return await http.post(
        f"{api.url('users')}/oauth/token",
        data={"grant_type": "client_credentials", **form},
        auth=(client, secret),
    )


async def test_a_service_with_the_secret_gets_a_service_token_the_others_accept(
    api: Any, http: httpx.AsyncClient
) -> None:
    settings = api.settings["users"]
    verifier = TokenVerifier(
        JwksKeySource(f"{api.url('users')}/.well-known/jwks.json", http),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    response = await token_response(api, http, "orders", DEV_SERVICE_SECRET)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 300
    assert response.headers["cache-control"] == "no-store"
    # a SERVICE token of the service that asked, which every service verifies with users' keys
    principal = await verifier.verify(body["access_token"])
    assert principal.subject == "service:orders"
    assert principal.roles == {"SERVICE"}


async def test_a_wrong_secret_or_an_unknown_client_gets_no_token(api: Any, http: httpx.AsyncClient) -> None:
    wrong_secret = await token_response(api, http, "orders", "guess")
    unknown_client = await token_response(api, http, "mallory", DEV_SERVICE_SECRET)
    no_credentials = await http.post(
        f"{api.url('users')}/oauth/token", data={"grant_type": "client_credentials"}
    )

    assert [r.status_code for r in (wrong_secret, unknown_client, no_credentials)] == [401, 401, 401]
    assert wrong_secret.json() == {"error": "invalid_client"}


async def test_only_the_client_credentials_grant_is_served(api: Any, http: httpx.AsyncClient) -> None:
    response = await token_response(api, http, "orders", DEV_SERVICE_SECRET, grant_type="password")

    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}
