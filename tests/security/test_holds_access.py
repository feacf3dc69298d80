"""Through the router, one customer gets nothing of another's by id, and the internal operations are neither
seen nor callable (issue 13: these already held; they must keep holding).

The subgraphs' own tests check each rule on the subgraph directly (tests/orders/test_orders_input.py,
tests/payments/test_payments_access.py, tests/users/test_users_queries.py); these ask the router, which must
neither leak another's rows through an entity jump nor let an @inaccessible field through. The internal
operations are read from the committed supergraph, not listed by hand.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import graphql
import pytest
from eventually import eventually
from security_client import Shop, ask

from shared.testing import ServerThread

SUPERGRAPH = graphql.parse(
    (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
)
ORDER = "query($id: ID!) { order(id: $id) { id status user { email } payment { id status } } }"
PAYMENT = "query($id: ID!) { payment(id: $id) { id status order { id } } }"
USER = "query($id: ID!) { user(id: $id) { id email orders(first: 5) { nodes { id } } } }"
NOTIFICATION = "query($id: ID!) { notification(id: $id) { id subject body } }"
MY_NOTIFICATIONS = "{ me { notifications(first: 5) { nodes { id } } } }"
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { id status } }"


async def test_a_customer_gets_nothing_of_another_customers_by_id(shop: Shop) -> None:
    # Given a customer with a confirmed order, its payment and (soon) a welcome notification
    product = await shop.product(stock=5)
    owner, other = await shop.customer(), await shop.customer()
    order = (await shop.place(owner, product)).ok()["placeOrder"]
    notifications = await eventually(
        lambda: shop.ask(MY_NOTIFICATIONS, token=owner.token),
        lambda answer: answer.ok()["me"]["notifications"]["nodes"],
        what="the owner's welcome notification",
    )
    reads = {
        ORDER: order["id"],
        PAYMENT: order["payment"]["id"],
        USER: owner.id,
        NOTIFICATION: notifications.ok()["me"]["notifications"]["nodes"][0]["id"],
    }
    for query, row in reads.items():
        # The control: the owner reads each of them through the router
        assert (await shop.ask(query, {"id": row}, owner.token)).ok()

        # When another customer asks for it by id
        theirs = await shop.ask(query, {"id": row}, other.token)

        # Then it is refused and nothing of it comes back
        assert theirs.codes == ["FORBIDDEN"], (query, theirs.body)
        assert theirs.data is None or set(theirs.data.values()) == {None}, theirs.body

    # Nor can they cancel it: the order stays confirmed
    cancel = await shop.ask(CANCEL, {"id": order["id"]}, other.token)
    assert cancel.codes == ["FORBIDDEN"]
    mine = await shop.ask(ORDER, {"id": order["id"]}, owner.token)
    assert mine.ok()["order"]["status"] == "CONFIRMED"


def inaccessible() -> tuple[set[str], dict[str, str]]:
    """The supergraph's @inaccessible types, and its @inaccessible root fields with their root type."""
    types: set[str] = set()
    roots: dict[str, str] = {}
    for node in SUPERGRAPH.definitions:
        if not isinstance(node, graphql.TypeDefinitionNode):
            continue
        if any(d.name.value == "inaccessible" for d in node.directives or ()):
            types.add(node.name.value)
        if node.name.value in ("Query", "Mutation", "Subscription"):
            for field in getattr(node, "fields", None) or ():
                if any(d.name.value == "inaccessible" for d in field.directives or ()):
                    roots[field.name.value] = node.name.value
    return types, roots


HIDDEN_TYPES, HIDDEN_ROOTS = inaccessible()
INTROSPECTION = "{ __schema { types { name fields { name } inputFields { name } } } }"


def test_the_supergraph_has_internal_operations_to_hide() -> None:
    # A guard for the tests below: an empty list would let them pass without checking anything.
    saga = {"reserveStock", "confirmReservation", "releaseReservation", "chargePayment", "refundPayment"}
    assert saga <= set(HIDDEN_ROOTS)
    assert {"Reservation", "ChargePaymentInput", "ReserveStockInput"} <= HIDDEN_TYPES


async def test_introspection_through_the_router_shows_no_internal_type_or_field(router: ServerThread) -> None:
    types = (await ask(router, INTROSPECTION)).ok()["__schema"]["types"]

    names = {t["name"] for t in types}
    fields = {f["name"] for t in types for f in (t["fields"] or []) + (t["inputFields"] or [])}
    assert names & (HIDDEN_TYPES | {"_Any", "_Entity", "_Service"}) == set()
    assert fields & (set(HIDDEN_ROOTS) | {"_entities", "_service"}) == set()


def calls_of(field: str, root: str) -> str:
    """A call of `field` on `root` with a literal for every argument (their values do not matter: it must not
    validate at all)."""
    definition = next(
        node for node in SUPERGRAPH.definitions if getattr(node, "name", None) and node.name.value == root
    )
    node = next(f for f in definition.fields if f.name.value == field)  # type: ignore[attr-defined]
    arguments = ", ".join(f'{argument.name.value}: "x"' for argument in node.arguments or ())
    call = f"{field}({arguments})" if arguments else field
    return f"{root.lower() if root != 'Query' else 'query'} {{ {call} {{ __typename }} }}"


FEDERATION = [
    'query { _entities(representations: [{__typename: "User", id: "x"}]) { __typename } }',
    "query { _service { sdl } }",
]


@pytest.mark.parametrize(
    "operation", [calls_of(field, root) for field, root in sorted(HIDDEN_ROOTS.items())] + FEDERATION
)
async def test_an_internal_operation_is_not_callable_through_the_router(
    router: ServerThread, issuer: Any, operation: str
) -> None:
    # Whoever asks: an admin, or a service with its own token
    for token in (
        issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token,
        issuer.issue_service_token("orders", ttl_seconds=60).token,
    ):
        answer = await ask(router, operation, token=token)

        assert answer.codes == ["GRAPHQL_VALIDATION_FAILED"], answer.body
        assert "data" not in answer.body
