"""Benchmark of `login`: argon2id's deliberate cost, and the login mutation's latency over HTTP.

Reports hashes (and verifications) per second with the configured parameters on one core, then `login`
latency p50/p99 through a real users server (sequential and concurrent), with the bare argon2 verification
measured in the same run as the reference: the ratio shows what HTTP, GraphQL, the database, Redis and the
token cost on top of the hash.

    .venv/bin/python bench/login.py [--requests 200] [--concurrency 8]
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
from argon2 import PasswordHasher, Type

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("MYSHOP_DATA_DIR", tempfile.mkdtemp(prefix="myshop-bench-"))
os.environ.setdefault("MYSHOP_LOG_LEVEL", "WARNING")
os.environ["MYSHOP_REDIS_PREFIX"] = f"bench:{os.getpid()}:"
# The benchmark logs in hundreds of times from one address: lift the rate limits for it.
os.environ["MYSHOP_USERS_LOGIN_ADDRESS_ATTEMPTS"] = "1000000"
os.environ["MYSHOP_USERS_LOGIN_ACCOUNT_CEILING_ATTEMPTS"] = "1000000"

from measure import percentile

from myshop.testing import scratch_database
from shared.log import configure_logging
from shared.testing import ServerThread
from subgraphs.users.app import build_app
from subgraphs.users.settings import UsersSettings

LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken expiresAt } }"
REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { email } }"
PASSWORD = "bench-password-123"


def argon2_rates(settings: UsersSettings, rounds: int) -> tuple[float, float, float]:
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )
    started = time.perf_counter()
    hashes = [hasher.hash(PASSWORD) for _ in range(rounds)]
    hash_seconds = (time.perf_counter() - started) / rounds
    timings = []
    for stored in hashes:
        started = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        timings.append(time.perf_counter() - started)
    return 1 / hash_seconds, 1 / statistics.mean(timings), statistics.median(timings)


async def login_latencies(url: str, requests: int, concurrency: int) -> tuple[list[float], float]:
    async with httpx.AsyncClient(
        timeout=60, limits=httpx.Limits(max_keepalive_connections=concurrency)
    ) as client:
        emails = [f"bench{concurrency}-{i}@example.com" for i in range(concurrency)]
        for email in emails:
            body = {
                "query": REGISTER,
                "variables": {"i": {"email": email, "password": PASSWORD, "name": "Bench"}},
            }
            response = (await client.post(url, json=body)).json()
            assert not response.get("errors"), response
        for email in emails:  # warm-up
            await client.post(url, json={"query": LOGIN, "variables": {"e": email, "p": PASSWORD}})

        latencies: list[float] = []

        async def worker(email: str, count: int) -> None:
            for _ in range(count):
                started = time.perf_counter()
                response = await client.post(
                    url, json={"query": LOGIN, "variables": {"e": email, "p": PASSWORD}}
                )
                latencies.append(time.perf_counter() - started)
                body = response.json()
                assert response.status_code == 200 and not body.get("errors"), body

        started = time.perf_counter()
        await asyncio.gather(*(worker(email, requests // concurrency) for email in emails))
        return latencies, time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--hash-rounds", type=int, default=30)
    args = parser.parse_args()
    configure_logging("bench", level="WARNING", json=False)

    settings = UsersSettings()
    hash_rate, verify_rate, verify_p50 = argon2_rates(settings, args.hash_rounds)
    print(
        f"argon2id t={settings.argon2_time_cost} m={settings.argon2_memory_cost_kib} KiB "
        f"p={settings.argon2_parallelism}: {hash_rate:.1f} hashes/s, {verify_rate:.1f} verifications/s "
        f"on one core (verify p50 {verify_p50 * 1000:.1f} ms)"
    )

    async with scratch_database("users", settings.postgres_url) as database_url:
        server = ServerThread(build_app(UsersSettings(database_url=database_url))).start()
        try:
            url = f"{server.url}/graphql"
            rows = []
            for concurrency in (1, args.concurrency):
                requests = args.requests if concurrency > 1 else max(20, args.requests // 4)
                latencies, elapsed = await login_latencies(url, requests, concurrency)
                rows.append((concurrency, latencies, elapsed))
        finally:
            await asyncio.to_thread(server.stop)

    print(
        f"\n{'login over HTTP':<22}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p50 / argon2':>14}"
    )
    for concurrency, latencies, elapsed in rows:
        p50 = percentile(latencies, 50)
        print(
            f"{f'{concurrency} concurrent':<22}{len(latencies):>9}{len(latencies) / elapsed:>9.1f}"
            f"{p50 * 1000:>9.1f}{percentile(latencies, 99) * 1000:>9.1f}{p50 / verify_p50:>13.2f}x"
        )
    print(
        "\nreference: one bare argon2 verification "
        f"({verify_p50 * 1000:.1f} ms); logins are bound by it by design."
    )


if __name__ == "__main__":
    asyncio.run(main())
