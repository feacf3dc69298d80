"""How a background loop (the outbox relay, an event consumer, a cache) rides out Redis or the database being
down: waits that grow between tries (`shared.backoff`), one WARNING when an outage starts and one INFO when it
ends, never a line per retry."""

from __future__ import annotations

import logging
import time

from shared.backoff import Backoff

# The first wait of an outage is at most this long (seconds).
FIRST_BACKOFF = 0.05


class Outage:
    def __init__(self, logger: logging.Logger, *, max_backoff: float) -> None:
        self.logger = logger
        self.max_backoff = max_backoff
        self._waits = Backoff(FIRST_BACKOFF, max_backoff)
        # Seconds to wait before the next try: 0 while all is well.
        self.backoff = 0.0
        self._failures = 0
        self._since: float | None = None

    def failed(self, message: str, *args: object) -> None:
        """A try failed: wait longer next time; log `message % args` if this starts an outage."""
        self._failures += 1
        self.backoff = self._waits.delay(self._failures)
        if self._since is None:
            self._since = time.monotonic()
            self.logger.warning(message, *args)

    def recovered(self, message: str, *args: object) -> None:
        """A try succeeded: no more waiting; log `message % (*args, seconds down)` if an outage ends."""
        self.backoff = 0.0
        self._failures = 0
        if self._since is not None:
            self.logger.info(message, *args, time.monotonic() - self._since)
            self._since = None
