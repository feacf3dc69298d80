"""Property: whatever a client sends the router (valid operations over MyShop's API schema with random
arguments and variables, operations with one schema violation, mangled documents, wrong variable types,
bodies that are no request at all; anonymous, as a customer, as an admin), the answer is never a 5xx nor an
`INTERNAL` error, and the router is healthy after. tests/security/fuzz_operations.py makes the requests;
`make fuzz` (bench/fuzz_router.py) runs the same generator for 20,000 operations."""

from __future__ import annotations

import collections
import time
from typing import Any

import httpx
import pytest
from fuzz_operations import KINDS, FuzzCase, api_schema, fuzz_cases, healthy, send
from hypothesis import HealthCheck, given, seed, settings
from security_client import Shop

from shared.testing import ServerThread

# At least 500 operations in CI (issue 13's floor): 8.3 s in the full suite on two cores (measured). A fixed
# seed and no example database: every run sends the same requests, and a failure reproduces.
OPERATIONS = 500


# The stack's servers are threads of this process: their retries' jitter draws from `random` while Hypothesis
# generates, which it warns about (it cannot tell their draws from a strategy's).
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_no_request_gets_a_5xx_or_internal_and_the_router_stays_healthy(
    router: ServerThread, shop: Shop, issuer: Any
) -> None:
    # Given rows for the generated IDs to hit: products in stock, a customer with an order
    products = [await shop.product(stock=1000) for _ in range(3)]
    customer, admin = await shop.customer(), await shop.customer()
    order = (await shop.place(customer, products[0])).ok()["placeOrder"]
    ids = [*products, customer.id, order["id"], order["payment"]["id"]]
    tokens = {
        # Fresh tokens per request: a generated `logout(allSessions: true)` revokes those issued before it.
        "admin": lambda: issuer.issue(admin.id, ["ADMIN"]).token,
        "customer": lambda: issuer.issue(customer.id, ["CUSTOMER"]).token,
        "anonymous": lambda: None,
    }
    sent: collections.Counter[str] = collections.Counter()
    executed: collections.Counter[str] = collections.Counter()
    with_data: collections.Counter[str] = collections.Counter()
    url = f"{router.url}/graphql"
    started, cpu = time.perf_counter(), time.process_time()

    with httpx.Client(timeout=30) as client:

        @seed(13)
        @settings(
            max_examples=OPERATIONS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        )
        @given(case=fuzz_cases(api_schema(), ids))
        def request(case: FuzzCase) -> None:
            # When the router gets it
            answer = send(client, url, case, tokens[case.role]())
            sent[case.kind] += 1
            executed[case.kind] += answer.executed()
            with_data[case.kind] += answer.has_data()
            # Then it answers, without a 5xx or INTERNAL
            assert answer.failure() is None, (answer.failure(), case.describe(), answer.body[:2000])

        request()

        # and it is healthy after
        assert healthy(client, router.url)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"fuzz: {sum(sent.values())} operations in {seconds:.1f} s ({cpu:.1f} s CPU): {dict(sent)}")
    print(f"fuzz: executed {dict(executed)}; some data {dict(with_data)}")
    assert sum(sent.values()) >= OPERATIONS
    # The generator reaches the subgraphs, not only the router's refusals: most valid operations are executed,
    # some with data, and every kind of request was made. "Some" is 1 in 30: most root fields added since
    # (shipments, returns, webhooks, dead letters) are staff-only or name rows the generator has no id of, so
    # fewer random operations come back with data (17 of 250 alone, 11 of 256 once in the full suite).
    valid = sent["valid"] + sent["valid variables"]
    assert executed["valid"] + executed["valid variables"] >= valid // 2, executed
    assert with_data["valid"] + with_data["valid variables"] >= valid // 30, with_data
    assert set(sent) == set(KINDS)
