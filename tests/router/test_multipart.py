"""The multipart/mixed framing shared by @defer answers and HTTP subscriptions (router/http/multipart.py)."""

from __future__ import annotations

import orjson
import pytest

from router.http.multipart import DEFER, DEFER_SPEC, SUBSCRIPTION, SUBSCRIPTION_SPEC, accepts


@pytest.mark.parametrize(
    ("accept", "spec", "expected"),
    [
        ("multipart/mixed;deferSpec=20220824,application/json", DEFER_SPEC, True),
        ("multipart/mixed; deferSpec=20220824; q=0.5, application/json", DEFER_SPEC, True),
        ("multipart/mixed;deferSpec=20220824;q=0, application/json", DEFER_SPEC, False),
        ("multipart/mixed;subscriptionSpec=1.0,application/json", SUBSCRIPTION_SPEC, True),
        ("multipart/mixed;subscriptionSpec=1.0,application/json", DEFER_SPEC, False),
        ("multipart/mixed, application/json", DEFER_SPEC, False),
        ("application/json", DEFER_SPEC, False),
        ("", SUBSCRIPTION_SPEC, False),
    ],
)
def test_accepts_reads_the_spec_parameter(accept: str, spec: str, expected: bool) -> None:
    assert accepts(accept, spec) is expected


def test_parts_split_on_the_boundary_into_json() -> None:
    body = DEFER.part({"data": {"a": 1}, "hasNext": True}) + DEFER.part({"hasNext": False}) + DEFER.end()
    assert DEFER.content_type == b'multipart/mixed;boundary="-";deferSpec=20220824'
    pieces = body.split(b"\r\n---")
    assert pieces[0] == b"" and pieces[-1] == b"--\r\n"
    parts = [orjson.loads(p.split(b"\r\n\r\n", 1)[1]) for p in pieces[1:-1]]
    assert parts == [{"data": {"a": 1}, "hasNext": True}, {"hasNext": False}]
    assert SUBSCRIPTION.part({}).startswith(b"\r\n--graphql\r\ncontent-type: application/json")
