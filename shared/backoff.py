"""How long to wait before trying again: one rule for every retry loop of every service.

Exponential (`base * 2**(attempt - 1)`), capped, with full jitter: the wait is drawn uniformly between 0 and
that ceiling, so the retries of many processes (every saga of a burst, every replica of a consumer) spread out
instead of arriving together. Of the jitters compared in AWS's "Exponential Backoff And Jitter", full jitter
does the least work for the fewest collisions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# 2**64 times any sensible base is past every cap: larger exponents only risk an OverflowError.
_MAX_EXPONENT = 64


@dataclass(frozen=True, slots=True)
class Backoff:
    """`base`: the longest first wait (seconds); `cap`: the longest wait ever. `jitter=False` waits the
    ceiling itself (where a wait must be predictable, as in a test of the waiting)."""

    base: float
    cap: float
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap <= 0:
            raise ValueError(f"a backoff waits a positive time, not base={self.base}, cap={self.cap}")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after the `attempt`-th failure (1 for the first)."""
        if attempt < 1:
            return 0.0
        return min(self.cap, self.base * 2 ** min(attempt - 1, _MAX_EXPONENT))

    def delay(self, attempt: int) -> float:
        """The wait after the `attempt`-th failure: a uniform draw from 0 to its ceiling."""
        ceiling = self.ceiling(attempt)
        return random.uniform(0.0, ceiling) if self.jitter else ceiling
