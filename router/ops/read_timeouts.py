"""Closes clients that send their request too slowly. uvicorn times out an idle keep-alive connection but
nothing else: a client that trickles its headers (one byte a second) or its body holds a connection, a
buffer and a file descriptor for as long as it likes, and a few hundred such clients exhaust a process.

`timed_protocol` makes uvicorn's httptools protocol arm one timer per request: at the connection's start
(covering a client that connects and sends nothing) or at the first byte of each next request on a kept-alive
connection (the idle wait before it stays uvicorn's `timeout_keep_alive`), re-armed for the body when the
headers are complete, cancelled when the request is read. On expiry the connection is closed."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class ClientTimeoutsConfig(BaseModel):
    """`client_timeouts:` in router.yaml."""

    # From the connection (or a kept-alive request's first byte) to the end of the request's headers.
    header_read_seconds: float = Field(10.0, gt=0)
    # From the end of the headers to the end of the body (a 2 MiB body at 100 kB/s takes 20 s).
    body_read_seconds: float = Field(60.0, gt=0)


def timed_protocol(config: ClientTimeoutsConfig) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with `config`'s read timeouts (for uvicorn.Config's `http=`)."""

    class TimedHttpToolsProtocol(_TimedHttpToolsProtocol):
        header_read_seconds = config.header_read_seconds
        body_read_seconds = config.body_read_seconds

    return TimedHttpToolsProtocol


class _TimedHttpToolsProtocol(HttpToolsProtocol):
    header_read_seconds: float
    body_read_seconds: float
    _read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_read_seconds)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_timer is None:  # a kept-alive connection's next request; the first is armed already
            self._arm(self.header_read_seconds)

    def on_headers_complete(self) -> None:
        self._arm(self.body_read_seconds)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the WebSocket protocol takes the connection over, with its own pings
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()
