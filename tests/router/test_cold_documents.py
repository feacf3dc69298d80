"""Documents not seen before are prepared off the loop once per text: many requests for a new text at once
(a deploy, a thousand subscribers joining) wait for the one preparation (router/pipeline/document.py)."""

from __future__ import annotations

import asyncio

from graphql import build_schema

from router.pipeline.document import DocumentStages, RouterLimits

SCHEMA = build_schema("type Query { a: Int b(n: Int): Int }")


def _counted(stages: DocumentStages) -> list[str]:
    """The texts `stages` validates, recorded as it goes."""
    seen: list[str] = []
    validate = stages._validated

    def recording(query: str, bounded: object) -> object:
        seen.append(query)
        return validate(query, bounded)

    stages._validated = recording  # type: ignore[method-assign]
    return seen


async def test_a_new_text_sent_by_many_at_once_is_validated_once() -> None:
    stages = DocumentStages(SCHEMA, RouterLimits())
    validated = _counted(stages)
    query = "{ a b(n: 1) }"
    answers = await asyncio.gather(*(stages.prepare_off_loop(query) for _ in range(200)))
    assert validated == [query]
    assert all(answer is answers[0] for answer in answers)
    assert answers[0].errors is None and stages.cached(query)
    # Another text is prepared on its own; a cached one is not prepared again.
    await asyncio.gather(stages.prepare_off_loop("{ b(n: 2) }"), stages.prepare_off_loop(query))
    assert validated == [query, "{ b(n: 2) }"]


async def test_waiters_share_a_refusal_and_one_cancelled_waiter_cancels_nobody_else() -> None:
    stages = DocumentStages(SCHEMA, RouterLimits(max_depth=1))
    validated = _counted(stages)
    invalid = "{ nope }"
    first = asyncio.ensure_future(stages.prepare_off_loop(invalid))
    others = [asyncio.ensure_future(stages.prepare_off_loop(invalid)) for _ in range(5)]
    first.cancel()
    answers = await asyncio.gather(*others)
    assert validated == [invalid]
    assert all(answer.errors and "nope" in answer.errors[0]["message"] for answer in answers)
    # A text over the limits is refused before validation, and not cached.
    deep = "{ a { a { a } } }"
    refused = await asyncio.gather(*(stages.prepare_off_loop(deep) for _ in range(3)))
    assert all(r.errors for r in refused) and not stages.cached(deep)
