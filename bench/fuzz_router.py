"""The router fuzzed at length: tests/security/test_fuzz.py's generator (hypothesis-graphql over MyShop's API
schema: valid operations with random arguments and variables, operations with one schema violation, mangled
documents, wrong variable types, garbage bodies; anonymous, as a customer, as an admin) against every subgraph
and the router as real processes, as `myshop up` runs them (router.yaml, edge JWT validation).

Every answer is judged as the test judges it (never a 5xx, never `INTERNAL`, always an answer); failures are
counted by kind and each is printed with the request, the answer and the ERROR lines the subgraphs logged
meanwhile. The router must answer `{ __typename }` and /health after. Exits 1 when anything failed.

    .venv/bin/python bench/fuzz_router.py [--operations 20000] [--seed 13] [--no-nul]   (or `make fuzz`)

Strings include NUL characters and lone surrogates (shared/input_hygiene.py answers them BAD_USER_INPUT);
`--no-nul` leaves them out.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "security"))

RUN = uuid.uuid4().hex[:6]
os.environ.setdefault("MYSHOP_DATA_DIR", tempfile.mkdtemp(prefix="myshop-fuzz-"))
os.environ["MYSHOP_DATABASE_PREFIX"] = f"myshop_fuzz{RUN}_"
os.environ["MYSHOP_REDIS_PREFIX"] = f"fuzz:{RUN}:"
os.environ["MYSHOP_LOG_LEVEL"] = "WARNING"
os.environ["MYSHOP_LOG_JSON"] = "false"
os.environ["MYSHOP_ENV"] = "test"
# Nothing listens on port 9: notifications' mails fail and are retried, as in the tests.
os.environ["MYSHOP_NOTIFICATIONS_SMTP_PORT"] = "9"
SERVICES = ["users", "products", "inventory", "payments", "orders", "notifications", "analytics"]
for _name in [*SERVICES, "router"]:
    with socket.socket() as _sock:
        _sock.bind(("127.0.0.1", 0))
        os.environ[f"MYSHOP_{_name.upper()}_PORT"] = str(_sock.getsockname()[1])

from myshop.embedded import ensure_infrastructure  # noqa: E402

_INFRA = ensure_infrastructure(
    os.environ.get("MYSHOP_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
    os.environ.get("MYSHOP_REDIS_URL", "redis://127.0.0.1:6379/0"),
    ROOT / ".myshop" / "bench-servers",
    log=lambda line: print(f"[fuzz] {line}"),
)
os.environ["MYSHOP_POSTGRES_URL"], os.environ["MYSHOP_REDIS_URL"] = _INFRA.postgres_url, _INFRA.redis_url

import fuzz_operations  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from myshop import devstack, migrations  # noqa: E402
from shared.auth import KeyRing, TokenIssuer  # noqa: E402
from shared.auth.keys import generate_key_file  # noqa: E402
from shared.settings import ServiceSettings  # noqa: E402

REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { email } }"
# Register signs nobody in: the account's id comes from a login.
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { user { id } } }"
CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }"
ADJUST = 'mutation($id: ID!, $d: Int!) { adjustStock(productId: $id, delta: $d, reason: "fuzz") { id } }'
PLACE = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id payment { id } } }"


def ask(client: httpx.Client, url: str, query: str, variables: dict[str, Any], token: str | None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = client.post(url, json={"query": query, "variables": variables}, headers=headers).json()
    assert "errors" not in body, body
    return body["data"]


def arrange(client: httpx.Client, url: str, issuer: TokenIssuer) -> tuple[list[str], str, str]:
    """Rows for the generated IDs to hit (products in stock, a customer with an order, an admin); the ids,
    the customer's and the admin's user ids."""
    setup_admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    products = []
    for number in range(3):
        product = {"sku": f"FUZZ-{RUN}-{number}", "name": f"Fuzzed {number}", "description": "",
                   "price": {"amount": 990, "currency": "USD"}, "category": "Fuzz"}  # fmt: skip
        products.append(ask(client, url, CREATE, {"i": product}, setup_admin)["createProduct"]["id"])
        ask(client, url, ADJUST, {"id": products[-1], "d": 100_000}, setup_admin)
    users = []
    for role in ("customer", "admin"):
        email = f"fuzz-{role}-{RUN}@example.com"
        account = {"email": email, "password": "correct horse battery", "name": role}
        ask(client, url, REGISTER, {"i": account}, None)
        signed_in = ask(client, url, LOGIN, {"e": email, "p": account["password"]}, None)
        users.append(signed_in["login"]["user"]["id"])
    customer = issuer.issue(users[0], ["CUSTOMER"]).token
    order = {"items": [{"productId": products[0], "quantity": 1}], "paymentMethod": "tok_approve",
             "idempotencyKey": RUN}  # fmt: skip
    placed = ask(client, url, PLACE, {"i": order}, customer)["placeOrder"]
    return [*products, *users, placed["id"], placed["payment"]["id"]], users[0], users[1]


class Logs:
    """The ERROR lines each service logged since the last look."""

    def __init__(self, processes: list[devstack.ServiceProcess]) -> None:
        self.paths = {process.name: process.log_path for process in processes}
        self.read = dict.fromkeys(self.paths, 0)

    def new_errors(self) -> list[str]:
        lines = []
        for name, path in self.paths.items():
            try:
                with path.open("rb") as log:
                    log.seek(self.read[name])
                    text = log.read()
                    self.read[name] += len(text)
            except OSError:
                continue
            for line in text.decode(errors="replace").splitlines():
                if "ERROR" in line or "Traceback" in line:
                    lines.append(f"{name}: {line[:600]}")
        return lines


def fuzz(url: str, base: str, issuer: TokenIssuer, args: argparse.Namespace, logs: Logs) -> int:
    """Sends `args.operations` generated requests, `args.concurrency` in flight while the next ones are
    generated (generation costs about what the stack's answer does); prints the figures and every failure;
    the number of failures."""
    limits = httpx.Limits(max_connections=args.concurrency + 1)
    in_flight = threading.BoundedSemaphore(args.concurrency)
    lock = threading.Lock()
    with httpx.Client(timeout=30, limits=limits) as client, ThreadPoolExecutor(args.concurrency) as pool:
        ids, customer_id, admin_id = arrange(client, url, issuer)
        logs.new_errors()  # what arranging logged is not the fuzz's
        tokens = {
            "admin": lambda: issuer.issue(admin_id, ["ADMIN"]).token,
            "customer": lambda: issuer.issue(customer_id, ["CUSTOMER"]).token,
            "anonymous": lambda: None,
        }
        sent: collections.Counter[str] = collections.Counter()
        executed: collections.Counter[str] = collections.Counter()
        failures: collections.Counter[str] = collections.Counter()
        started = time.perf_counter()

        def one(case: fuzz_operations.FuzzCase, token: str | None) -> None:
            try:
                answer = fuzz_operations.send(client, url, case, token)
            finally:
                in_flight.release()
            with lock:
                sent[case.kind] += 1
                executed[case.kind] += answer.executed()
                failure = answer.failure()
                if failure is not None:
                    failures[f"{failure} ({case.kind})"] += 1
                    print(f"FAILURE {failure}: {case.describe()}\n  answer: {answer.body[:1000]!r}")
                    for line in logs.new_errors():
                        print(f"  log {line}")
                if sum(sent.values()) % 1000 == 0:
                    print(f"  {sum(sent.values())} sent, {sum(failures.values())} failed", flush=True)

        @seed(args.seed)
        @settings(
            max_examples=args.operations,
            deadline=None,
            database=None,
            phases=[Phase.generate],  # every failure is reported as sent, none shrunk
            suppress_health_check=list(HealthCheck),
        )
        @given(case=fuzz_operations.fuzz_cases(fuzz_operations.api_schema(), ids))
        def request(case: fuzz_operations.FuzzCase) -> None:
            in_flight.acquire()
            pool.submit(one, case, tokens[case.role]())

        request()
        pool.shutdown(wait=True)
        seconds = time.perf_counter() - started
        healthy = fuzz_operations.healthy(client, base)
    total = sum(sent.values())
    print(f"\n{total} operations in {seconds:.1f} s ({total / seconds:.0f}/s), seed {args.seed}, "
          f"{args.concurrency} in flight")  # fmt: skip
    print(f"by kind: {dict(sent)}")
    print(f"executed (reached the subgraphs): {dict(executed)}")
    print(f"failures: {sum(failures.values())} {dict(failures)}")
    print(f"router healthy after: {healthy}")
    return sum(failures.values()) + (0 if healthy else 1)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight while generating")
    parser.add_argument("--no-nul", action="store_true", help="leave NUL and lone surrogates out of strings")
    args = parser.parse_args()
    fuzz_operations.GENERATE_NUL_AND_SURROGATES = not args.no_nul

    common = ServiceSettings()
    generate_key_file(common.keys_dir)
    keys = KeyRing.load(private_key_pem=None, keys_dir=common.keys_dir, retired_public_pem=None, create=False)
    issuer = TokenIssuer(keys, issuer=common.jwt_issuer, audience=common.jwt_audience, ttl_seconds=3600)
    env = {**dict(os.environ), **devstack.peer_env(SERVICES)}
    os.environ.update(env)
    logs_dir = Path(common.data_dir) / "logs"
    started: list[devstack.ServiceProcess] = []
    await devstack.migrate(SERVICES, log=lambda _line: None)
    try:
        for name in SERVICES:
            started.append(devstack.start_service(name, logs_dir, env))
        for process in started:
            devstack.wait_ready(process)
        urls = {process.name: f"{process.url}/graphql" for process in started}
        router = devstack.start_router(ROOT / "schema" / "supergraph.graphql", urls, logs_dir, env)
        started.append(router)
        devstack.wait_ready(router, path="/health")
        logs = Logs(started)
        return await asyncio.to_thread(fuzz, f"{router.url}/graphql", router.url, issuer, args, logs)
    finally:
        devstack.stop_services(started)
        for name in SERVICES:
            settings = devstack.service_settings(name)
            await migrations.drop_database(settings.postgres_url, settings.database_name)


if __name__ == "__main__":
    sys.exit(1 if asyncio.run(main()) else 0)
