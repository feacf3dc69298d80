"""Does `register` tell, by its time, whether an address has an account? (issue 14: "timing within noise")

Runs a real users server on a scratch database, registers 50 new addresses and 50 that already have an
account, interleaved (new, existing, new, ...) so drift in the machine's load falls on both alike, and prints
both means, medians and their ratio. Both paths hash the password once (argon2id); the new one also inserts
the account and its verification token, the existing one only writes the `SignUpAttempted` event. The
bodies are compared too: they must be identical but for the address.

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

from myshop.testing import scratch_database
from shared.log import configure_logging
from shared.testing import ServerThread
from subgraphs.users.app import build_app
from subgraphs.users.settings import UsersSettings

REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { email verificationRequired message } }"
PASSWORD = "bench-password-123"


async def register(client: httpx.AsyncClient, url: str, email: str) -> tuple[float, bytes]:
    body = {"query": REGISTER, "variables": {"i": {"email": email, "password": PASSWORD, "name": "Bench"}}}
    started = time.perf_counter()
    response = await client.post(url, json=body)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and b'"errors"' not in response.content, response.text
    return elapsed, response.content.replace(email.encode(), b"<email>")


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
            new, existing, bodies = await measure(f"{server.url}/graphql", args.tries)
        finally:
            await asyncio.to_thread(server.stop)

    print(f"{'register over HTTP':<22}{'tries':>7}{'mean ms':>10}{'median ms':>11}{'stdev ms':>10}")
    for label, times in (("new address", new), ("existing address", existing)):
        print(
            f"{label:<22}{len(times):>7}{statistics.mean(times) * 1000:>10.1f}"
            f"{statistics.median(times) * 1000:>11.1f}{statistics.stdev(times) * 1000:>10.1f}"
        )
    print(
        f"\nmean existing / new: {statistics.mean(existing) / statistics.mean(new):.3f}; "
        f"median existing / new: {statistics.median(existing) / statistics.median(new):.3f}"
    )
    print(f"distinct bodies (the address masked): {len(bodies)} (1 means identical)")


if __name__ == "__main__":
    asyncio.run(main())
