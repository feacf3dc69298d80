"""`Context.principal`: a caller is verified once per request; the fields asking together resume together."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from starlette.requests import HTTPConnection

from shared.auth import Principal
from shared.context import Context
from shared.errors import Unauthenticated

ALICE = Principal(subject="alice", roles=frozenset({"CUSTOMER"}), token_id="t1", issued_at=0, expires_at=1e12)


class SlowVerifier:
    """Verifies after a round trip (the revocation look-up), counting its calls."""

    def __init__(self, answer: Principal | Exception) -> None:
        self.answer = answer
        self.calls = 0

    async def verify(self, token: str) -> Principal:
        self.calls += 1
        await asyncio.sleep(0.01)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def request_context(verifier: SlowVerifier, authorization: str | None = "Bearer a-token") -> Context:
    """A request's context with this Authorization header (None: none), its tokens checked by `verifier`."""
    headers = [(b"authorization", authorization.encode())] if authorization is not None else []
    definition = SimpleNamespace(build_loaders=lambda context: None)
    runtime = SimpleNamespace(verifier=verifier, settings=None, redis=None, definition=definition)
    return Context(runtime, HTTPConnection({"type": "http", "headers": headers}))  # type: ignore[arg-type]


async def test_fields_asking_together_are_answered_by_one_verification_in_one_loop_turn() -> None:
    # Given a caller whose verification awaits a round trip
    verifier = SlowVerifier(ALICE)
    context = request_context(verifier)
    turns: list[int] = []
    loop_turn = 0

    async def tick() -> None:
        nonlocal loop_turn
        while True:
            loop_turn += 1
            await asyncio.sleep(0)

    async def field() -> Principal:
        principal = await context.require_principal()
        turns.append(loop_turn)
        return principal

    # When twenty sibling fields ask for it at once
    ticker = asyncio.ensure_future(tick())
    try:
        answers = await asyncio.gather(*(field() for _ in range(20)))
    finally:
        ticker.cancel()

    # Then the token was verified once, and every field resumed in the same loop turn (their next loads batch)
    assert answers == [ALICE] * 20
    assert verifier.calls == 1
    assert len(set(turns)) == 1


async def test_a_bad_token_is_unauthenticated_for_every_field_that_asks() -> None:
    context = request_context(SlowVerifier(Unauthenticated("Access token has expired.", reason="expired")))

    answers = await asyncio.gather(context.principal(), context.principal(), return_exceptions=True)

    assert [type(answer) for answer in answers] == [Unauthenticated, Unauthenticated]


async def test_an_anonymous_caller_is_none_and_must_sign_in_where_a_field_requires_it() -> None:
    verifier = SlowVerifier(ALICE)
    context = request_context(verifier, authorization=None)

    assert await context.principal() is None
    with pytest.raises(Unauthenticated):
        await context.require_principal()
    assert verifier.calls == 0


async def test_an_authorization_header_of_another_scheme_is_unauthenticated_without_a_verification() -> None:
    verifier = SlowVerifier(ALICE)
    context = request_context(verifier, authorization="Basic dXNlcjpwYXNz")

    with pytest.raises(Unauthenticated, match="Bearer"):
        await context.principal()
    assert verifier.calls == 0


async def test_a_field_cancelled_while_waiting_leaves_the_answer_to_the_others() -> None:
    # Given two fields waiting for the verification
    verifier = SlowVerifier(ALICE)
    context = request_context(verifier)
    abandoned = asyncio.ensure_future(context.require_principal())
    waiting = asyncio.ensure_future(context.require_principal())
    await asyncio.sleep(0)

    # When the first is cancelled (its parent field failed)
    abandoned.cancel()

    # Then the other still gets the caller, verified once
    assert await waiting == ALICE
    assert abandoned.cancelled()
    assert verifier.calls == 1
