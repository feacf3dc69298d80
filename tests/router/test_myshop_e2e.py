"""End to end through the router over MyShop's own supergraph (schema/supergraph.graphql) and the real users
and products subgraphs of the test stack: answers as the subgraphs give them, the Authorization header passed
on, a subgraph stopped mid-run, bad input, and introspection of the API schema (issue 4's acceptance
lines)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from edge_headers import OPS, PREFLIGHT
from sqlalchemy.ext.asyncio import async_sessionmaker

from myshop.demo.users import DEMO_PASSWORD, seed
from router.http.graphql import GRAPHQL_RESPONSE, JSON
from shared.app import create_subgraph_app
from shared.testing import ServerThread
from subgraphs import registry

REPO = Path(__file__).resolve().parents[2]
SUPERGRAPH = (REPO / "schema" / "supergraph.graphql").read_text()
PASSWORD = "correct horse battery"

REGISTER = """
mutation Register($input: RegisterInput!) { register(input: $input) { email verificationRequired } }
"""
# Register signs nobody in: the sign-in right after it.
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken user { id email name roles } }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken user { id email roles } }
}
"""
CREATE = """
mutation Create($input: CreateProductInput!) {
  newProduct: createProduct(input: $input) { id sku name price { amount currency } category active }
}
"""
PRODUCTS = "products(first: 5) { edges { node { id name price { amount currency } } } }"
ME = "me { id email }"
# Both subgraphs in one operation: what the router must answer as the subgraphs do directly.
BOTH = f"{{ {PRODUCTS} {ME} }}"
PRODUCT_AND_ME = "query($id: ID!) { product(id: $id) { id name } me { id email } }"
NORMAL = "{ __typename products(first: 1) { totalCount } }"
CATALOG_SIZE = 3  # the products NORMAL counts where a test asks for the `catalog`: more than its page of one


# --- the routers ---------------------------------------------------------------------------------------


def graphql_url(server: Any) -> str:
    return f"{server.url}/graphql"


@pytest.fixture(scope="module")
def router(stack: Any, start_router: Any) -> ServerThread:
    """The router over the MyShop supergraph, as `myshop router` builds it, on a loopback port."""
    return start_router(SUPERGRAPH, subgraph_urls={name: graphql_url(s) for name, s in stack.servers.items()})


@pytest.fixture
async def client(router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
        yield client


# --- requests ------------------------------------------------------------------------------------------


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    url: str = "/graphql",
    accept: str = GRAPHQL_RESPONSE,
    operation_name: str | None = None,
) -> httpx.Response:
    headers = {"accept": accept}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    if operation_name is not None:
        payload["operationName"] = operation_name
    return await client.post(url, json=payload, headers=headers)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def codes(response: httpx.Response) -> list[str | None]:
    return [(error.get("extensions") or {}).get("code") for error in response.json().get("errors") or []]


async def register(client: httpx.AsyncClient, email: str, url: str = "/graphql") -> dict[str, Any]:
    """A new customer, registered and then signed in: the login payload."""
    variables = {"input": {"email": email, "password": PASSWORD, "name": "Router Customer"}}
    assert ok(await post(client, REGISTER, variables, url=url))["register"]["email"] == email
    return ok(await post(client, SIGN_IN, {"email": email, "password": PASSWORD}, url=url))["login"]


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    return ok(await post(client, LOGIN, {"email": email, "password": password}))["login"]


def product_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sku": f"RTR-{uuid.uuid4().hex[:8].upper()}",
        "name": "Router Mug",
        "description": "Made through the router.",
        "price": {"amount": 1299, "currency": "USD"},
        "category": "Kitchen",
    }
    values.update(overrides)
    return values


def email() -> str:
    return f"router-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture
async def admin(api: Any, engines: dict[str, Any], client: httpx.AsyncClient) -> dict[str, Any]:
    """The demo ADMIN, seeded in the users database, signed in by a real login through the router."""
    async with async_sessionmaker(engines["users"], expire_on_commit=False).begin() as session:
        await seed(session)
    signed_in = await login(client, "admin@myshop.dev", DEMO_PASSWORD)
    assert signed_in["user"]["roles"] == ["ADMIN"]
    return signed_in


# --- 1. answers as the subgraphs give them; mutations through the router -------------------------------


async def test_mutations_through_the_router_register_login_and_create_products(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    address = email()
    registered = await register(client, address)
    assert registered["user"]["email"] == address
    assert registered["user"]["roles"] == ["CUSTOMER"]
    assert registered["accessToken"] and registered["refreshToken"]

    signed_in = await login(client, address, PASSWORD)
    assert signed_in["user"] == {"id": registered["user"]["id"], "email": address, "roles": ["CUSTOMER"]}

    created = ok(
        await post(
            client,
            CREATE,
            {"input": product_input(sku="rtr-001", price={"amount": 1499, "currency": "eur"})},
            token=admin["accessToken"],
        )
    )["newProduct"]
    assert created["sku"] == "RTR-001"
    assert created["price"] == {"amount": 1499, "currency": "EUR"}
    assert created["active"] is True
    # The product is there for everyone, through the router.
    fetched = ok(await post(client, "query($id: ID!) { product(id: $id) { id sku } }", {"id": created["id"]}))
    assert fetched == {"product": {"id": created["id"], "sku": "RTR-001"}}


async def test_a_query_over_users_and_products_answers_as_the_subgraphs_do_directly(
    client: httpx.AsyncClient, admin: dict[str, Any], stack: Any, http: httpx.AsyncClient
) -> None:
    for i in range(7):
        variables = {"input": product_input(name=f"Mug {i}", price={"amount": 100 + i, "currency": "USD"})}
        ok(await post(client, CREATE, variables, token=admin["accessToken"]))
    customer = await register(client, email())
    token = customer["accessToken"]

    through_router = ok(await post(client, BOTH, token=token))

    auth = {"authorization": f"Bearer {token}"}
    direct_products = await http.post(
        f"{stack.url('products')}/graphql", json={"query": f"{{ {PRODUCTS} }}"}, headers=auth
    )
    direct_users = await http.post(
        f"{stack.url('users')}/graphql", json={"query": f"{{ {ME} }}"}, headers=auth
    )
    expected = {**ok(direct_products), **ok(direct_users)}
    assert through_router == expected
    assert list(through_router) == ["products", "me"]  # the client's field order
    assert len(through_router["products"]["edges"]) == 5
    assert through_router["me"] == {"id": customer["user"]["id"], "email": customer["user"]["email"]}


async def test_aliases_fragments_variables_and_typename_come_back_in_the_clients_shape(
    client: httpx.AsyncClient, admin: dict[str, Any], stack: Any, http: httpx.AsyncClient
) -> None:
    created = ok(await post(client, CREATE, {"input": product_input()}, token=admin["accessToken"]))
    product_id = created["newProduct"]["id"]
    query = """
    query Shop($id: ID!, $withEmail: Boolean!) {
      who: me { __typename ...Person email @include(if: $withEmail) }
      item: product(id: $id) { __typename id cost: price { amount } ... on Product { name } }
      missing: product(id: "00000000-0000-0000-0000-000000000000") { id }
    }
    fragment Person on User { id roles }
    """
    data = ok(await post(client, query, {"id": product_id, "withEmail": True}, token=admin["accessToken"]))
    assert list(data) == ["who", "item", "missing"]
    assert data["who"] == {
        "__typename": "User",
        "id": admin["user"]["id"],
        "roles": ["ADMIN"],
        "email": "admin@myshop.dev",
    }
    assert data["item"] == {
        "__typename": "Product",
        "id": product_id,
        "cost": {"amount": 1299},
        "name": "Router Mug",
    }
    assert data["missing"] is None
    without = ok(
        await post(client, query, {"id": product_id, "withEmail": False}, token=admin["accessToken"])
    )
    assert "email" not in without["who"]


async def test_one_mutation_over_both_subgraphs_runs_its_fields_in_order(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    mutation = """
    mutation Both(
      $product: CreateProductInput!, $account: RegisterInput!, $email: String!, $password: String!
    ) {
      made: createProduct(input: $product) { sku }
      joined: register(input: $account) { email verificationRequired }
      back: login(email: $email, password: $password) { user { email } }
    }
    """
    address = email()
    variables = {
        "product": product_input(sku="rtr-both"),
        "account": {"email": address, "password": PASSWORD, "name": "Both"},
        "email": address,
        "password": PASSWORD,
    }
    data = ok(await post(client, mutation, variables, token=admin["accessToken"]))
    # `login` comes after `register` (it needs the account), `made` first: the client's order throughout.
    assert data == {
        "made": {"sku": "RTR-BOTH"},
        "joined": {"email": address, "verificationRequired": True},
        "back": {"user": {"email": address}},
    }
    assert list(data) == ["made", "joined", "back"]


async def test_variable_defaults_and_introspection_mix_with_subgraph_fields(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    for _ in range(3):
        ok(await post(client, CREATE, {"input": product_input()}, token=admin["accessToken"]))
    query = """
    query($first: Int = 2) {
      __typename
      products(first: $first) { edges { node { id } } }
      __type(name: "Money") { fields { name } }
    }
    """
    data = ok(await post(client, query))
    assert list(data) == ["__typename", "products", "__type"]
    assert data["__typename"] == "Query"
    assert len(data["products"]["edges"]) == 2
    assert data["__type"] == {"fields": [{"name": "amount"}, {"name": "currency"}]}


async def test_subgraph_error_locations_are_in_the_clients_document(client: httpx.AsyncClient) -> None:
    query = "query Anonymous {\n  __typename\n  nobody: me { id }\n}"
    response = await post(client, query)
    error = response.json()["errors"][0]
    assert error["path"] == ["nobody"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    # Locations of the subgraph's own operation would point into a document the client never sent.
    assert error.get("locations", [{"line": 3, "column": 3}]) == [{"line": 3, "column": 3}]


# --- 2. the Authorization header reaches the subgraphs --------------------------------------------------


async def test_the_authorization_header_reaches_the_subgraphs_and_their_codes_come_back_unchanged(
    client: httpx.AsyncClient, admin: dict[str, Any], stack: Any, http: httpx.AsyncClient
) -> None:
    customer = await register(client, email())
    variables = {"input": product_input()}

    # The admin's token reaches products: the admin-only mutation works.
    ok(await post(client, CREATE, variables, token=admin["accessToken"]))

    # A customer's token reaches products too, which refuses it: FORBIDDEN as products says it, at the
    # client's (aliased) path, and no data for the non-null root field.
    refused = await post(client, CREATE, {"input": product_input()}, token=customer["accessToken"])
    assert refused.status_code == 200, refused.text
    body = refused.json()
    assert body["data"] is None
    assert codes(refused) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["newProduct"]
    direct = await http.post(
        f"{stack.url('products')}/graphql",
        json={"query": CREATE, "variables": {"input": product_input()}},
        headers={"authorization": f"Bearer {customer['accessToken']}"},
    )
    assert body["errors"][0]["message"] == direct.json()["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == direct.json()["errors"][0]["extensions"]["code"]

    # No token at all: products and users each say UNAUTHENTICATED.
    anonymous = await post(client, CREATE, {"input": product_input()})
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert anonymous.json()["data"] is None
    nobody = await post(client, "{ me { id } }")
    assert nobody.json()["data"] == {"me": None}
    assert codes(nobody) == ["UNAUTHENTICATED"]
    assert nobody.json()["errors"][0]["path"] == ["me"]
    # The customer's token reaches users as well.
    assert ok(await post(client, "{ me { id } }", token=customer["accessToken"])) == {
        "me": {"id": customer["user"]["id"]}
    }


# --- 3. a subgraph stopped mid-run ---------------------------------------------------------------------


async def test_a_subgraph_stopped_mid_run_costs_only_its_fields_and_the_router_keeps_serving(
    api: Any, stack: Any, start_router: Any
) -> None:
    products = ServerThread(
        create_subgraph_app(registry.load("products"), stack.settings["products"])
    ).start()
    urls = {name: graphql_url(server) for name, server in stack.servers.items()}
    router = start_router(SUPERGRAPH, subgraph_urls={**urls, "products": graphql_url(products)})
    stopped = False
    try:
        async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
            customer = await register(client, email())
            token = customer["accessToken"]
            me = {"id": customer["user"]["id"], "email": customer["user"]["email"]}
            missing = {"id": "00000000-0000-0000-0000-000000000000"}
            assert ok(await post(client, PRODUCT_AND_ME, missing, token=token)) == {"product": None, "me": me}
            assert (await client.get("/health/ready", headers=OPS)).status_code == 200

            await asyncio.to_thread(products.stop)
            stopped = True

            # The users field is answered; the (nullable) products field is null, with an error naming
            # the products subgraph.
            response = await post(client, PRODUCT_AND_ME, missing, token=token)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["data"] == {"product": None, "me": me}
            assert [error["extensions"] for error in body["errors"]] == [
                {"code": "SUBREQUEST_HTTP_ERROR", "service": "products"}
            ]
            assert "products" in body["errors"][0]["message"]

            # A non-null products root field nulls the whole data (GraphQL's null-bubbling), still named.
            response = await post(client, BOTH, token=token)
            assert response.status_code == 200, response.text
            assert response.json()["data"] is None
            assert [e["extensions"]["service"] for e in response.json()["errors"]] == ["products"]

            # The router keeps serving: users alone answers, /health is up, /health/ready names products.
            assert ok(await post(client, "{ me { id email } }", token=token)) == {"me": me}
            assert (await client.get("/health")).status_code == 200
            ready = await client.get("/health/ready", headers=OPS)
            assert ready.status_code == 503, ready.text
            report = ready.json()
            assert report["status"] == "unavailable"
            assert report["subgraphs"]["users"]["status"] == "ok"
            assert report["subgraphs"]["products"]["status"] == "error"
            assert report["subgraphs"]["products"]["url"] == graphql_url(products)
    finally:
        await asyncio.to_thread(router.stop)
        if not stopped:
            await asyncio.to_thread(products.stop)


# --- 4. bad input --------------------------------------------------------------------------------------

# A real depth-200 query over the API schema (introspection's ofType nests without end).
DEPTH_200 = '{ __type(name: "User") { ' + "ofType { " * 198 + "name" + " }" * 198 + " } }"
DEPTH_150 = '{ __type(name: "User") { ' + "ofType { " * 148 + "name" + " }" * 148 + " } }"
ALIASES_10000 = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(10_000)) + " }"
ALIASES_1001 = "{ " + " ".join(f"a{i}: __typename" for i in range(1001)) + " }"

BAD_INPUT = [
    pytest.param({"query": "{ me { id "}, {"GRAPHQL_PARSE_FAILED"}, id="unparsable"),
    pytest.param(
        {"query": "{ products(first: 1) { edges { node { shoeSize } } } }"},
        {"GRAPHQL_VALIDATION_FAILED"},
        id="unknown-field",
    ),
    pytest.param(
        {
            "query": "query($first: Int) { products(first: $first) { totalCount } }",
            "variables": {"first": "five"},
        },
        {"BAD_USER_INPUT"},
        id="wrong-variable-type",
    ),
    pytest.param(
        {"query": "query A { me { id } } query B { products(first: 1) { totalCount } }"},
        {"OPERATION_RESOLUTION_FAILURE"},
        id="two-operations-without-operation-name",
    ),
    # graphql-core's parser gives up on nesting this deep (its guard is Python's recursion limit) before the
    # router's depth check sees the document: either refusal is a GraphQL error with a code.
    pytest.param({"query": DEPTH_200}, {"GRAPHQL_PARSE_FAILED", "MAX_DEPTH_EXCEEDED"}, id="depth-200"),
    pytest.param({"query": DEPTH_150}, {"MAX_DEPTH_EXCEEDED"}, id="depth-150"),
    # 10,000 aliases are 50,000 tokens: the parser's token cap (15,000) refuses them before they are counted.
    pytest.param({"query": ALIASES_10000}, {"GRAPHQL_PARSE_FAILED"}, id="10000-aliases"),
    pytest.param({"query": ALIASES_1001}, {"MAX_ALIASES_EXCEEDED"}, id="1001-aliases"),
]


@pytest.fixture
async def catalog(api: Any, gql: Any, issuer: Any) -> int:
    """An emptied stack with this many active products (made on products directly): what NORMAL counts."""
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    for _ in range(CATALOG_SIZE):
        (await gql("products", CREATE, {"input": product_input()}, token=admin)).ok()
    return CATALOG_SIZE


async def still_serving(client: httpx.AsyncClient, catalog: int) -> None:
    response = await post(client, NORMAL)
    assert ok(response) == {"__typename": "Query", "products": {"totalCount": catalog}}


@pytest.mark.parametrize(("payload", "allowed"), BAD_INPUT)
@pytest.mark.parametrize(
    ("accept", "status"), [(GRAPHQL_RESPONSE, 400), (JSON, 200)], ids=["gql-json", "json"]
)
async def test_bad_input_gets_a_graphql_error_with_a_code_and_the_spec_status(
    client: httpx.AsyncClient,
    catalog: int,
    payload: dict[str, Any],
    allowed: set[str],
    accept: str,
    status: int,
) -> None:
    response = await client.post("/graphql", json=payload, headers={"accept": accept})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(accept)
    body = response.json()
    assert "data" not in body  # a request error: the operation never ran
    assert body["errors"] and all(error["message"] for error in body["errors"])
    assert len(set(codes(response))) == 1
    assert codes(response)[0] in allowed, body
    await still_serving(client, catalog)


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_a_ten_megabyte_body_is_413(client: httpx.AsyncClient, catalog: int, accept: str) -> None:
    body = orjson.dumps({"query": NORMAL, "variables": {"pad": "x" * 10_000_000}})
    response = await client.post("/graphql", content=body, headers={"content-type": JSON, "accept": accept})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(accept)
    assert codes(response) == ["PAYLOAD_TOO_LARGE"]
    await still_serving(client, catalog)


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_a_mutation_over_get_is_405_and_does_not_run(
    client: httpx.AsyncClient, catalog: int, accept: str
) -> None:
    address = email()
    variables = {"input": {"email": address, "password": PASSWORD, "name": "Over GET"}}
    response = await client.get(
        "/graphql",
        params={"query": REGISTER, "variables": orjson.dumps(variables).decode()},
        headers={"accept": accept, **PREFLIGHT},
    )
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"].startswith(accept)
    assert codes(response) == ["METHOD_NOT_ALLOWED"]
    assert "data" not in response.json()
    # Nothing was registered: no account signs in with that address and password.
    signed_in = await post(client, SIGN_IN, {"email": address, "password": PASSWORD})
    assert codes(signed_in) == ["UNAUTHENTICATED"]
    await still_serving(client, catalog)


async def test_a_query_over_get_works(client: httpx.AsyncClient, catalog: int) -> None:
    response = await client.get(
        "/graphql", params={"query": NORMAL}, headers={"accept": GRAPHQL_RESPONSE, **PREFLIGHT}
    )
    assert ok(response) == {"__typename": "Query", "products": {"totalCount": catalog}}


# --- 5. introspection ----------------------------------------------------------------------------------


async def test_introspection_shows_the_api_schema_without_federation_machinery(
    client: httpx.AsyncClient,
) -> None:
    query = "{ __schema { queryType { name fields { name } } mutationType { name } types { name } } }"
    schema = ok(await post(client, query))["__schema"]
    assert schema["queryType"]["name"] == "Query"
    assert schema["mutationType"] == {"name": "Mutation"}
    types = {t["name"] for t in schema["types"]}
    assert {"User", "Product", "Money", "AuthPayload", "ProductConnection", "Role"} <= types
    machinery = {
        name
        for name in types
        if name.startswith(("join__", "link__")) or name in ("_Any", "_Entity", "_Service", "FieldSet")
    }
    assert machinery == set()
    fields = {f["name"] for f in schema["queryType"]["fields"]}
    assert {
        "me",
        "user",
        "users",
        "mySessions",
        "exportMyData",
        "cart",
        "taxRates",
        "promotions",
        "promotion",
        "product",
        "products",
        "categories",
        "order",
        "orders",
        "return",
        "returns",
        "payment",
        "notification",
        "notificationDeadLetters",
        "webhooks",
        "webhook",
        "webhookDeliveries",
        "salesSummary",
        "salesSeries",
        "fulfillmentTimes",
        "topProducts",
        "userActivity",
        "analyticsDeadLetters",
        "inventoryDeadLetters",
        "lowStockProducts",
        "orderDeadLetters",
        "shippingZones",
        "shippingCountries",
        "shipment",
        "shipments",
        "shippingDeadLetters",
        "voucherUsage",
    } == fields
    assert ok(await post(client, '{ __type(name: "_Service") { name } }')) == {"__type": None}
