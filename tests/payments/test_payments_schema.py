"""The payments SDL composes with the others; the router's API schema hides only its internal operations."""

from __future__ import annotations

from pathlib import Path

from router.supergraph import build_api_schema, load_supergraph
from shared.composition import SubgraphSDL, compose
from subgraphs import registry

REPO = Path(__file__).resolve().parents[2]


def test_the_api_schema_hides_charge_and_refund_but_keeps_the_other_mutations_and_payments() -> None:
    # Given payments composed with a subgraph of public mutations (users)
    subgraphs = [
        SubgraphSDL(name, f"http://127.0.0.1/{name}", registry.load(name).schema.as_str())
        for name in ("users", "payments")
    ]

    _, document, names = load_supergraph(compose(subgraphs, repo_root=REPO))
    api = build_api_schema(document, names)

    # Then clients see users' mutations, Payment and Order.payment, but not the saga's operations
    assert api.mutation_type is not None
    assert "login" in api.mutation_type.fields
    assert not {"chargePayment", "refundPayment"} & set(api.mutation_type.fields)
    assert "ChargePaymentInput" not in api.type_map
    assert "payment" in api.query_type.fields
    assert "payment" in api.type_map["Order"].fields
