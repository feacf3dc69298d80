"""Does `register` tell, by its time, whether an address has an account? (issue 14: "timing within noise")

Runs a real users server on a scratch database, registers 50 new addresses and 50 that already have an
account, interleaved (new, existing, new, ...) so drift in the machine's load falls on both alike, and prints
both means, medians and their ratio. Both paths hash the password once (argon2id) and try the insert; the new
one also writes its verification token, the existing one the `SignUpAttempted` event. The bodies are compared
too: they must be identical but for the address. The same for `requestPasswordReset` (known / unknown
address), which hashes nothing: there the known address's token and event are the whole difference.

    .venv/bin/python bench/register_timing.py [--tries 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("MYSHOP_DATA_DIR", tempfile.mkdtemp(prefix="myshop-bench-"))
os.environ.setdefault("MYSHOP_LOG_LEVEL", "WARNING")
os.environ["MYSHOP_REDIS_PREFIX"] = f"bench:{os.getpid()}:"
# Hundreds of sign-ups from one address: lift the per-address limit for the benchmark.
os.environ["MYSHOP_USERS_REGISTER_ADDRESS_ATTEMPTS"] = "1000000"
os.environ["MYSHOP_USERS_PASSWORD_RESET_ADDRESS_ATTEMPTS"] = "1000000"

from myshop.testing import scratch_database
from shared.log import configure_logging
from shared.testing import ServerThread
from subgraphs.users.app import build_app
from subgraphs.users.settings import UsersSettings

REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { email verificationRequired message } }"
RESET = "mutation($e: String!) { requestPasswordReset(email: $e) }"
PASSWORD = "bench-password-123"


async def register(client: httpx.AsyncClient, url: str, email: str) -> tuple[float, bytes]:
    body = {"query": REGISTER, "variables": {"i": {"email": email, "password": PASSWORD, "name": "Bench"}}}
    started = time.perf_counter()
    response = await client.post(url, json=body)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and b'"errors"' not in response.content, response.text
    return elapsed, response.content.replace(email.encode(), b"<email>")


async def request_reset(client: httpx.AsyncClient, url: str, email: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = await client.post(url, json={"query": RESET, "variables": {"e": email}})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and b'"errors"' not in response.content, response.text
    return elapsed, response.content


async def measure_resets(url: str, tries: int) -> tuple[list[float], list[float], set[bytes]]:
    """requestPasswordReset for the accounts `measure` made (known) and for addresses without one."""
    run = os.getpid()
    async with httpx.AsyncClient(timeout=60) as client:
        for i in range(5):
            await request_reset(client, url, f"warm-{run}-{i}@example.com")
        known_times: list[float] = []
        unknown_times: list[float] = []
        bodies: set[bytes] = set()
        for i in range(tries):
            elapsed, body = await request_reset(client, url, f"nobody-{run}-{i}@example.com")
            unknown_times.append(elapsed)
            bodies.add(body)
            elapsed, body = await request_reset(client, url, f"taken-{run}-{i}@example.com")
            known_times.append(elapsed)
            bodies.add(body)
    return known_times, unknown_times, bodies


def report(title: str, rows: list[tuple[str, list[float]]], bodies: set[bytes]) -> None:
    print(f"\n{title:<28}{'tries':>7}{'mean ms':>10}{'median ms':>11}{'stdev ms':>10}")
    for label, times in rows:
        print(
            f"{label:<28}{len(times):>7}{statistics.mean(times) * 1000:>10.1f}"
            f"{statistics.median(times) * 1000:>11.1f}{statistics.stdev(times) * 1000:>10.1f}"
        )
    (_, first), (_, second) = rows
    print(
        f"mean {rows[1][0]} / {rows[0][0]}: {statistics.mean(second) / statistics.mean(first):.3f}; "
        f"median: {statistics.median(second) / statistics.median(first):.3f}; "
        f"distinct bodies (address masked): {len(bodies)}"
    )


async def measure(url: str, tries: int) -> tuple[list[float], list[float], set[bytes]]:
    run = os.getpid()
    async with httpx.AsyncClient(timeout=60) as client:
        existing = [f"taken-{run}-{i}@example.com" for i in range(tries)]
        for email in existing:  # the accounts that exist before the measured sign-ups
            await register(client, url, email)
        for i in range(5):  # warm-up: connections, caches, the first argon2 allocations
            await register(client, url, f"warm-{run}-{i}@example.com")
        new_times: list[float] = []
        existing_times: list[float] = []
        bodies: set[bytes] = set()
        for i in range(tries):
            elapsed, body = await register(client, url, f"new-{run}-{i}@example.com")
            new_times.append(elapsed)
            bodies.add(body)
            elapsed, body = await register(client, url, existing[i])
            existing_times.append(elapsed)
            bodies.add(body)
    return new_times, existing_times, bodies


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tries", type=int, default=50)
    args = parser.parse_args()
    configure_logging("bench", level="WARNING", json=False)
    settings = UsersSettings()
    async with scratch_database("users", settings.postgres_url) as database_url:
        server = ServerThread(build_app(UsersSettings(database_url=database_url))).start()
        try:
            url = f"{server.url}/graphql"
            new, existing, bodies = await measure(url, args.tries)
            known, unknown, reset_bodies = await measure_resets(url, args.tries)
        finally:
            await asyncio.to_thread(server.stop)

    report("register over HTTP", [("new address", new), ("existing address", existing)], bodies)
    report("requestPasswordReset", [("unknown address", unknown), ("known address", known)], reset_bodies)


if __name__ == "__main__":
    asyncio.run(main())
