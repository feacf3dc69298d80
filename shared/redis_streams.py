"""Redis Streams entries as redis-py hands them to a consumer group member: bytes or text, RESP2 or RESP3."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class StreamMessage:
    stream: str
    id: str
    fields: dict[Any, Any]
    retried: bool = False  # delivered before (a retry or a claim): its failure count may exist


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_reply(reply: Any) -> list[tuple[Any, list[Any]]]:
    """XREADGROUP's answer as (stream, entries) pairs: RESP2 gives a list of pairs, RESP3 (as redis-py parses
    it) a map of stream to a one-element list holding the entries."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return [
            (stream, value[0] if len(value) == 1 and isinstance(value[0], list) else value)
            for stream, value in reply.items()
        ]
    return [(stream, entries) for stream, entries in reply]


def consumer_name() -> str:
    """One name per process: a restarted process is a new consumer, and its predecessor's pending messages
    are claimed once idle."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
