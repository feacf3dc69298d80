"""Closes clients that send their request too slowly. uvicorn times out an idle keep-alive connection but
nothing else: a client that trickles its headers (one byte a second) or its body holds a connection, a
buffer and a file descriptor for as long as it likes, and a few hundred such clients exhaust a process.

`timed_protocol` makes uvicorn's httptools protocol keep a read deadline per connection: set when it opens
(covering a client that connects and sends nothing) and at the first byte of each next request on a
kept-alive connection (the idle wait before it stays uvicorn's `timeout_keep_alive`), moved on for the body
when the headers are complete, cleared when the request is read. One sweep per server, every `sweep_seconds`
while it has connections, closes those past their deadline: the request path only reads the loop's clock
(a timer per request, armed and cancelled, measured ~40x the cost)."""

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

    @property
    def sweep_seconds(self) -> float:
        """How often deadlines are checked: a client is closed at most this long after its deadline."""
        return min(1.0, self.header_read_seconds / 10, self.body_read_seconds / 10)


def timed_protocol(config: ClientTimeoutsConfig) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with `config`'s read timeouts (for uvicorn.Config's `http=`): a class of
    its own per server, so each server sweeps its own connections."""

    class TimedHttpToolsProtocol(_TimedHttpToolsProtocol):
        header_read_seconds = config.header_read_seconds
        body_read_seconds = config.body_read_seconds
        sweep_seconds = config.sweep_seconds
        sweeper: asyncio.TimerHandle | None = None

    return TimedHttpToolsProtocol


class _TimedHttpToolsProtocol(HttpToolsProtocol):
    header_read_seconds: float
    body_read_seconds: float
    sweep_seconds: float
    sweeper: asyncio.TimerHandle | None  # the server's sweep, scheduled while it has connections
    # The loop time by which the request being read must be complete; None: not reading one.
    read_deadline: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.read_deadline = self.loop.time() + self.header_read_seconds
        cls = type(self)
        if cls.sweeper is None:
            cls.sweeper = self.loop.call_later(cls.sweep_seconds, self._sweep)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.read_deadline is None:  # a kept-alive connection's next request; the first has one already
            self.read_deadline = self.loop.time() + self.header_read_seconds

    def on_headers_complete(self) -> None:
        self.read_deadline = self.loop.time() + self.body_read_seconds
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.read_deadline = None
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self.read_deadline = None  # the WebSocket protocol takes the connection over, with its own pings
        super().handle_websocket_upgrade()

    def _sweep(self) -> None:
        """Closes every connection of this server past its read deadline; runs again while any is open."""
        cls = type(self)
        now = self.loop.time()
        for connection in tuple(self.connections):
            deadline = getattr(connection, "read_deadline", None)
            if deadline is not None and now > deadline and not connection.transport.is_closing():
                connection.read_deadline = None
                connection.transport.close()
        cls.sweeper = self.loop.call_later(cls.sweep_seconds, self._sweep) if self.connections else None
