"""Entity fetches over canned subgraph answers: which entities a fetch sends, and where its answers and errors
land, when one subgraph answer is merged into several places of the response
(router/execution/executor.py)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from test_execution_shaping import gateway_of

REVIEWS = """
type Query { reviews: [Review] }
type Review { id: ID! product: Product }
type Product @key(fields: "upc") { upc: String! }
"""
PRODUCTS = """
type Product @key(fields: "upc") { upc: String! name: String maker: Maker }
type Maker @key(fields: "id") { id: ID! }
"""
MAKERS = """
type Maker @key(fields: "id") { id: ID! name: String }
"""
QUERY = "{ reviews { id product { name maker { name } } } }"


def _reviews(body: dict[str, Any]) -> dict[str, Any]:
    product = {"__typename": "Product", "upc": "p1"}
    return {
        "data": {"reviews": [{"id": "r1", "product": dict(product)}, {"id": "r2", "product": dict(product)}]}
    }


def _products(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "_entities": [
                {"name": f"name of {r['upc']}", "maker": {"__typename": "Maker", "id": "m1"}}
                for r in body["variables"]["representations"]
            ]
        }
    }


def _makers_failing(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {"_entities": [None]},
        "errors": [{"message": "maker lookup failed", "path": ["_entities", 0, "name"]}],
    }


async def test_an_entity_merged_into_two_places_is_asked_for_once_and_answers_in_both() -> None:
    """Given two reviews of one product, whose maker the products subgraph answers once for both
    When the query asks for the maker's name
    Then the makers subgraph gets that maker once, and both reviews show its name"""
    gateway, canned = gateway_of(
        {
            "REVIEWS": _reviews,
            "PRODUCTS": _products,
            "MAKERS": lambda body: {"data": {"_entities": [{"name": "Acme"}]}},
        },
        ("reviews", REVIEWS),
        ("products", PRODUCTS),
        ("makers", MAKERS),
    )

    result = await gateway.execute(QUERY)

    product = {"name": "name of p1", "maker": {"name": "Acme"}}
    assert result == {
        "data": {"reviews": [{"id": "r1", "product": product}, {"id": "r2", "product": product}]}
    }
    maker_fetches = [body for graph, body in canned.requests if graph == "MAKERS"]
    assert [body["variables"]["representations"] for body in maker_fetches] == [
        [{"id": "m1", "__typename": "Maker"}]
    ]


async def test_an_error_on_an_entity_merged_into_two_places_names_both_paths() -> None:
    """Given a maker reached through two reviews, and a makers subgraph failing on it
    When the query asks for the maker's name
    Then the error is reported at both response paths"""
    gateway, _ = gateway_of(
        {"REVIEWS": _reviews, "PRODUCTS": _products, "MAKERS": _makers_failing},
        ("reviews", REVIEWS),
        ("products", PRODUCTS),
        ("makers", MAKERS),
    )

    result = await gateway.execute(QUERY)

    paths = sorted(error["path"] for error in result["errors"])
    assert paths == [
        ["reviews", 0, "product", "maker", "name"],
        ["reviews", 1, "product", "maker", "name"],
    ]
    assert {error["message"] for error in result["errors"]} == {"maker lookup failed"}


async def test_entities_with_equal_numeric_keys_are_sent_once() -> None:
    """Given two line items of the same part, keyed by an Int
    When the query asks for the part's label from the other subgraph
    Then one representation is sent and both line items get the label"""
    lines = """
    type Query { lines: [Line] }
    type Line { qty: Int part: Part }
    type Part @key(fields: "number") { number: Int! }
    """
    parts = 'type Part @key(fields: "number") { number: Int! label: String }'
    answer = {
        "data": {
            "lines": [
                {"qty": 1, "part": {"__typename": "Part", "number": 7}},
                {"qty": 2, "part": {"__typename": "Part", "number": 7}},
                {"qty": 3, "part": {"__typename": "Part", "number": 8}},
            ]
        }
    }

    def labels(body: dict[str, Any]) -> dict[str, Any]:
        reps = body["variables"]["representations"]
        return {"data": {"_entities": [{"label": f"part {r['number']}"} for r in reps]}}

    gateway, canned = gateway_of(
        {"LINES": lambda body: answer, "PARTS": labels}, ("lines", lines), ("parts", parts)
    )

    result = await gateway.execute("{ lines { qty part { label } } }")

    assert result == {
        "data": {
            "lines": [
                {"qty": 1, "part": {"label": "part 7"}},
                {"qty": 2, "part": {"label": "part 7"}},
                {"qty": 3, "part": {"label": "part 8"}},
            ]
        }
    }
    sent = [body["variables"]["representations"] for graph, body in canned.requests if graph == "PARTS"]
    assert sent == [[{"number": 7, "__typename": "Part"}, {"number": 8, "__typename": "Part"}]]


def test_the_router_command_does_not_load_the_subgraphs_stack() -> None:
    """Given the `myshop` command's module (what `myshop router` starts from)
    When it is imported
    Then SQLAlchemy, Alembic and the subgraphs are not (they cost the router's process about 28 MB)"""
    code = (
        "import sys, myshop.cli; "
        "print(','.join(m for m in ('sqlalchemy', 'alembic', 'subgraphs') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
