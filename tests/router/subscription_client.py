"""Reading a graphql-sse answer in the router's subscription tests (WebSocket: tests/ws_client.py)."""

from __future__ import annotations


def sse_events(text: str) -> list[tuple[str, str]]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in block.splitlines()
        )
        if "event" in fields:
            events.append((fields["event"], fields.get("data", "")))
    return events
