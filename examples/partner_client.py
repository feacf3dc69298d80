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
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

SUBSCRIPTION = """
subscription PartnerFeed($after: String) {
  orderUpdates(after: $after) {
    cursor kind status previousStatus fulfillmentStatus shipmentId reason changedAt
    order { id total { amount currency } }
  }
}"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}"""
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
        cursor = read_cursor(self.cursor_file)
        async with connect(self.ws_url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
            )
            ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if ack.get("type") != "connection_ack":
                raise Reconnect(f"no connection_ack: {ack}")
            subscribe = {"query": SUBSCRIPTION, "variables": {"after": cursor}}
            await ws.send(json.dumps({"id": "feed", "type": "subscribe", "payload": subscribe}))
            log(f"subscribed after cursor {cursor or '(none: from now on)'}")
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind == "next":
                    self.handle(message.get("payload") or {})
                elif kind == "error":
                    self.fail(message.get("payload") or [])
                elif kind == "complete":
                    raise Reconnect("the server completed the subscription")

    def handle(self, payload: dict[str, Any]) -> None:
        if payload.get("errors"):
            self.fail(payload["errors"])
        update = (payload.get("data") or {}).get("orderUpdates")
        if not update:
            return
        # No await from the print to the cursor write: a stop (task cancel) falls between two updates.
        print(json.dumps(update), flush=True)
        write_cursor(self.cursor_file, update["cursor"])

    def fail(self, errors: list[dict[str, Any]]) -> None:
        codes = {(error.get("extensions") or {}).get("code") for error in errors}
        messages = "; ".join(str(error.get("message")) for error in errors)
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
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                self.http_url,
                json={"query": LOGIN, "variables": {"email": self.email, "password": self.password}},
            )
        body = response.json()
        if body.get("errors"):
            codes = {(error.get("extensions") or {}).get("code") for error in body["errors"]}
            if "RATE_LIMITED" in codes:
                raise Reconnect("login rate limited")
            raise Fatal(f"login failed: {body['errors'][0].get('message')}")
        self.token = body["data"]["login"]["accessToken"]
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
