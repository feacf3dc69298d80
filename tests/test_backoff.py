"""One backoff for every retry loop (shared.backoff): exponential, capped, with full jitter."""

from __future__ import annotations

import logging
import random

import pytest

from shared.backoff import Backoff
from shared.outage import Outage


def test_the_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(0.5, 5.0)

    assert [backoff.ceiling(attempt) for attempt in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.ceiling(10_000) == 5.0  # no overflow however long an outage lasts


def test_full_jitter_draws_anywhere_between_zero_and_the_ceiling() -> None:
    random.seed(12)
    backoff = Backoff(1.0, 60.0)

    draws = [backoff.delay(3) for _ in range(2000)]

    # Then every wait is within [0, 4 s], and they spread over the whole range (not ±50 % around it)
    assert all(0.0 <= draw <= 4.0 for draw in draws)
    assert min(draws) < 0.4 and max(draws) > 3.6
    assert 1.8 < sum(draws) / len(draws) < 2.2


def test_without_jitter_the_wait_is_the_ceiling() -> None:
    assert [Backoff(0.1, 0.3, jitter=False).delay(attempt) for attempt in (1, 2, 3)] == [0.1, 0.2, 0.3]


def test_a_backoff_waits_a_positive_time() -> None:
    with pytest.raises(ValueError):
        Backoff(0.0, 1.0)


def test_an_outage_waits_longer_after_each_failure_and_not_at_all_once_recovered() -> None:
    random.seed(3)
    outage = Outage(logging.getLogger("test.outage"), max_backoff=0.2)

    waits = []
    for _ in range(6):
        outage.failed("down")
        waits.append(outage.backoff)
    outage.recovered("up after %.1f s")

    assert all(0.0 <= wait <= 0.2 for wait in waits)
    assert waits[0] <= 0.05
    assert outage.backoff == 0.0
