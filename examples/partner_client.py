"""A partner's order feed: follows `orderUpdates` over GraphQL-over-WebSocket (graphql-transport-ws), prints
each update as one JSON line, and keeps its place in a cursor file, so a restarted client resumes exactly
where it stopped.

    python examples/partner_client.py --url http://127.0.0.1:4000/graphql \\
        --email partner@example.com --password ... --cursor-file partner.cursor

The cursor is written (atomically) right after each update is printed, with nothing in between that can be
interrupted: SIGINT/SIGTERM stop the client between two updates, so a stop and a restart print every update
exactly once. A hard crash (SIGKILL, power cut) right after a print can print that one update again on
restart: its `cursor` field tells them apart. A dropped connection is retried with exponential backoff and
jitter; an expired token is replaced by logging in again when credentials were given.

It speaks through the typed client generated from the API schema and the partner's operations
(examples/partner/client/, `make partner-client`): each update is a `PartnerFeedOrderUpdates` model, printed
as the JSON the server sent (camelCase fields).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from partner.client import (
    Client,
    GraphQLClientError,
    GraphQLClientGraphQLError,
    GraphQLClientGraphQLMultiError,
    GraphQLClientHttpError,
    PartnerFeedOrderUpdates,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

# Errors after which trying again cannot help: stop and say why.
FATAL = {"FORBIDDEN", "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"}


class Fatal(Exception):
    pass


class Reconnect(Exception):
    pass


def log(message: str) -> None:
    print(f"partner_client: {message}", file=sys.stderr, flush=True)


def read_cursor(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def write_cursor(path: Path, cursor: str) -> None:
    """Replace the cursor file in one step: a crash leaves the old cursor or the new one, never half."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(cursor)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class FeedClient(Client):
    """The generated client with this feed's own WebSocket transport (graphql-transport-ws): the generated one
    drops a `next` that carries errors, ends quietly on `complete` and waits 5 s for the ack; here an error
    raises (the feed decides: stop, log in again or reconnect) and a `complete` reconnects."""

    async def execute_ws(
        self,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        async with connect(self.ws_url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": self.ws_connection_init_payload}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if ack.get("type") != "connection_ack":
                raise Reconnect(f"no connection_ack: {ack}")
            payload = {"query": query, "operationName": operation_name, "variables": variables or {}}
            await ws.send(json.dumps({"id": "feed", "type": "subscribe", "payload": payload}))
            log(f"subscribed after cursor {(variables or {}).get('after') or '(none: from now on)'}")
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind == "next":
                    body = message.get("payload") or {}
                    if body.get("errors"):
                        raise GraphQLClientGraphQLMultiError.from_errors_dicts(body["errors"], body)
                    if body.get("data"):
                        yield body["data"]
                elif kind == "error":
                    raise GraphQLClientGraphQLMultiError.from_errors_dicts(message.get("payload") or [])
                elif kind == "complete":
                    raise Reconnect("the server completed the subscription")


class PartnerFeed:
    def __init__(self, args: argparse.Namespace) -> None:
        self.http_url = args.url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)
        self.ws_url = self.http_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.email, self.password = args.email, args.password
        self.token: str | None = args.token
        self.cursor_file = Path(args.cursor_file)
        self.max_backoff = args.max_backoff

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self.follow()
                backoff = 0.5  # the server completed the stream: come back at once
            except Reconnect as exc:
                log(f"{exc}; reconnecting in {backoff:.1f} s")
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake, httpx.HTTPError) as exc:
                log(f"connection lost ({type(exc).__name__}: {exc}); reconnecting in {backoff:.1f} s")
            else:
                continue
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.max_backoff)

    async def follow(self) -> None:
        token = await self.access_token()
        init = {"Authorization": f"Bearer {token}"}
        async with FeedClient(ws_url=self.ws_url, ws_connection_init_payload=init) as api:
            try:
                async for feed in api.partner_feed(after=read_cursor(self.cursor_file)):
                    self.handle(feed.order_updates)
            except GraphQLClientGraphQLMultiError as exc:
                self.fail(exc.errors)

    def handle(self, update: PartnerFeedOrderUpdates) -> None:
        # No await from the print to the cursor write: a stop (task cancel) falls between two updates.
        print(update.model_dump_json(by_alias=True), flush=True)
        write_cursor(self.cursor_file, update.cursor)

    def fail(self, errors: list[GraphQLClientGraphQLError]) -> None:
        codes = {(error.extensions or {}).get("code") for error in errors}
        messages = "; ".join(error.message for error in errors)
        if codes & FATAL:
            raise Fatal(f"{', '.join(sorted(filter(None, codes)))}: {messages}")
        if "UNAUTHENTICATED" in codes:
            if not self.email:
                raise Fatal(f"UNAUTHENTICATED: {messages} (give --email/--password to log in again)")
            self.token = None
        raise Reconnect(f"{', '.join(sorted(filter(None, codes))) or 'error'}: {messages}")

    async def access_token(self) -> str:
        if self.token:
            return self.token
        async with Client(url=self.http_url, http_client=httpx.AsyncClient(timeout=10)) as api:
            try:
                self.token = (await api.login(self.email, self.password)).login.access_token
            except GraphQLClientGraphQLMultiError as exc:
                if any((error.extensions or {}).get("code") == "RATE_LIMITED" for error in exc.errors):
                    raise Reconnect("login rate limited") from None
                raise Fatal(f"login failed: {exc.errors[0].message}") from None
            except GraphQLClientHttpError as exc:
                # The router's own rate limit (429) and an unavailable one (5xx) pass; anything else will not.
                if exc.status_code == 429 or exc.status_code >= 500:
                    raise Reconnect(f"login answered HTTP {exc.status_code}") from None
                raise Fatal(f"login failed: HTTP {exc.status_code}") from None
            except GraphQLClientError as exc:
                raise Reconnect(f"login failed: {exc}") from None
        return self.token


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Follow every order change (status or fulfillment).")
    parser.add_argument(
        "--url", default="http://127.0.0.1:4000/graphql", help="the GraphQL endpoint (router)"
    )
    parser.add_argument("--token", help="an access token (PARTNER or ADMIN)")
    parser.add_argument("--email", help="partner credentials: log in (and again when the token expires)")
    parser.add_argument("--password", default=os.environ.get("MYSHOP_PARTNER_PASSWORD"))
    parser.add_argument("--cursor-file", default="partner.cursor", help="where the last cursor is kept")
    parser.add_argument(
        "--max-backoff", type=float, default=30.0, help="longest pause between reconnections (s)"
    )
    args = parser.parse_args(argv)
    if not args.token and not (args.email and args.password):
        parser.error("give --token, or --email and --password (or MYSHOP_PARTNER_PASSWORD)")
    return args


async def main(argv: list[str] | None = None) -> int:
    feed = PartnerFeed(parse_args(argv))
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await feed.run()
    except asyncio.CancelledError:
        log("stopped")
        return 0
    except (Fatal, InvalidURI) as exc:
        log(f"giving up: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
