"""How a background loop (the outbox relay, an event consumer) rides out Redis or the database being down:
doubling waits between tries, one WARNING when an outage starts and one INFO when it ends, never a line per
retry."""

from __future__ import annotations

import logging
import time


class Outage:
    def __init__(self, logger: logging.Logger, *, max_backoff: float) -> None:
        self.logger = logger
        self.max_backoff = max_backoff
        # Seconds to wait before the next try: 0 while all is well.
        self.backoff = 0.0
        self._since: float | None = None

    def failed(self, message: str, *args: object) -> None:
        """A try failed: wait longer next time; log `message % args` if this starts an outage."""
        self.backoff = min(max(self.backoff * 2, 0.05), self.max_backoff)
        if self._since is None:
            self._since = time.monotonic()
            self.logger.warning(message, *args)

    def recovered(self, message: str, *args: object) -> None:
        """A try succeeded: no more waiting; log `message % (*args, seconds down)` if an outage ends."""
        self.backoff = 0.0
        if self._since is not None:
            self.logger.info(message, *args, time.monotonic() - self._since)
            self._since = None
