"""`myshop up` end to end: with the configured PostgreSQL and Redis unreachable it serves on embedded ones,
a second start after a SIGKILL of the first recovers the stale state, and SIGTERM or SIGINT (even one
inherited ignored, as in a shell script's background job) stops every child and ends it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from myshop import watch
from myshop.servers import free_port
from shared.migrations import drop_database
from subgraphs import registry

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


# Starts `python -m ARGV` with a signal state set first (SETUP: "ignore-sigint", "sigint-pending" or "-"),
# in a fresh single-threaded process that then execs: a `preexec_fn` would run Python in a fork of this
# multi-threaded worker, which may deadlock before its exec (subprocess's documentation warns of it; a loaded
# CI run saw the watcher's start hang for its whole two minutes).
LAUNCHER = """
import os, signal, sys
from myshop.watch import STOP_SIGNALS
setup, argv = sys.argv[1], sys.argv[2:]
if setup == "ignore-sigint":  # as a shell starts a script's background job (`cmd &`)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
elif setup == "sigint-pending":  # as `myshop up` leaves them for its exec into the watcher, a Ctrl-C come
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    os.kill(os.getpid(), signal.SIGINT)
os.execv(sys.executable, [sys.executable, "-m", *argv])
"""


def python_module(argv: list[str], setup: str = "-") -> list[str]:
    return [sys.executable, "-c", LAUNCHER, setup, *argv]


class Up:
    """A `myshop up` process whose output is kept in a file (so a full pipe never blocks it)."""

    def __init__(
        self,
        env: dict[str, str],
        output: Path,
        args: tuple[str, ...] = (),
        setup: str = "-",
    ) -> None:
        self.output = output
        self.handle = output.open("wb")
        self.process = subprocess.Popen(
            python_module(["myshop.cli", "up", *args], setup),
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_up(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "MyShop is up" in self.text():
                return
            if self.process.poll() is not None:
                pytest.fail(f"myshop up exited {self.process.returncode}:\n{self.text()}")
            time.sleep(0.3)
        pytest.fail(f"myshop up was not up after {timeout} s:\n{self.text()}")

    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def stop(self, signum: signal.Signals, timeout: float = 60) -> int:
        """Send `signum` and wait for the exit code (killed, and failed, if it does not exit in time)."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"myshop up ignored {signum.name} for {timeout} s:\n{self.text()}")


def graphql(url: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def exercise(users: str, products: str, email: str) -> None:
    """Register, log in, and search, as a newcomer would."""
    graphql(
        users,
        "mutation($i: RegisterInput!) { register(input: $i) { email } }",
        {"i": {"email": email, "password": "correct horse battery", "name": "Newcomer"}},
    )
    login = graphql(
        users,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { email }}}",
        {"e": email, "p": "correct horse battery"},
    )["login"]
    assert login["user"]["email"] == email
    found = graphql(
        products,
        '{ products(search: "coffee", first: 5) { totalCount edges { node { name description } } } }',
        token=login["accessToken"],
    )["products"]
    assert found["totalCount"] > 0
    first = found["edges"][0]["node"]
    assert "coffee" in (first["name"] + first["description"]).lower()


def order_through(router: str, email: str) -> None:
    """The demo customer buys a demo product in stock through the router: the whole saga on demo data."""
    token = graphql(
        router,
        'mutation($e: String!) { login(email: $e, password: "myshop-demo") { accessToken } }',
        {"e": email},
    )["login"]["accessToken"]
    listing = graphql(router, "{ products(first: 50) { nodes { id inStock stock { available } } } }")
    product = next(p for p in listing["products"]["nodes"] if p["stock"]["available"] >= 2)
    order_input = {
        "items": [{"productId": product["id"], "quantity": 2}],
        "paymentMethod": "tok_approve",
        "idempotencyKey": f"up-{time.time_ns()}",
    }
    placed = graphql(
        router,
        "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { status payment { status } "
        "items { product { stock { available } } } } }",
        {"i": order_input},
        token=token,
    )["placeOrder"]
    assert placed["status"] == "CONFIRMED"
    assert placed["payment"] == {"status": "CAPTURED"}
    assert placed["items"][0]["product"]["stock"]["available"] == product["stock"]["available"] - 2


def mail_bodies(mail_dir: Path, recipient: str) -> list[str]:
    """The text of each mail the sink kept for `recipient`."""
    bodies = []
    for path in mail_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if recipient in str(message["To"]):
            texts = [part for part in message.walk() if part.get_content_type() == "text/plain"]
            bodies += [part.get_content() for part in texts]
    return bodies


def test_up_serves_on_embedded_servers_and_recovers_after_sigkill(tmp_path: Path) -> None:
    names = (*registry.SUBGRAPHS, "router", "console", "storefront", "notifications_smtp")
    ports = {name: free_port() for name in names}
    smtp_port = ports.pop("notifications_smtp")
    users_port, products_port, router_port = ports["users"], ports["products"], ports["router"]
    env = {
        **os.environ,
        # Nothing listens on port 1: both servers are "configured but unreachable".
        "MYSHOP_POSTGRES_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/postgres",
        "MYSHOP_REDIS_URL": "redis://127.0.0.1:1/0",
        "MYSHOP_DATA_DIR": str(tmp_path / "data"),
        **{f"MYSHOP_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        "MYSHOP_NOTIFICATIONS_SMTP_PORT": str(smtp_port),
        "MYSHOP_ENV": "development",
        # The router's detailed readiness (each subgraph) is for operators holding this token.
        "MYSHOP_ROUTER_OPS__TOKEN": "up-test-ops-token",
    }
    for key in (
        "MYSHOP_DATABASE_PREFIX",
        "MYSHOP_REDIS_PREFIX",
        "MYSHOP_JWKS_URL",
        "MYSHOP_SERVICE_TOKEN_URL",
    ):
        env.pop(key, None)
    users = f"http://127.0.0.1:{users_port}/graphql"
    products = f"http://127.0.0.1:{products_port}/graphql"

    first = Up(env, tmp_path / "first.log")
    try:
        first.wait_up()
        assert "started an embedded PostgreSQL" in first.text()
        assert "started an embedded Valkey" in first.text()
        for name in registry.SUBGRAPHS:
            ready = httpx.get(f"http://127.0.0.1:{ports[name]}/health/ready", timeout=10)
            assert ready.status_code == 200
            assert set(ready.json()["checks"]) >= {"database", "redis"}
        exercise(users, products, "first@example.com")
        # The router runs over this run's subgraphs, and the welcome text sends people to its GraphiQL.
        router_ready = httpx.get(
            f"http://127.0.0.1:{router_port}/health/ready",
            headers={"authorization": "Bearer up-test-ops-token"},
            timeout=10,
        )
        assert router_ready.status_code == 200, router_ready.text
        assert set(router_ready.json()["subgraphs"]) == set(registry.SUBGRAPHS)
        assert f"http://localhost:{router_port}/graphql" in first.text()
        # The admin console on its own port, told where the router is, its origin allowed by the router.
        console = f"http://localhost:{ports['console']}"
        assert f"{console}/" in first.text()
        assert httpx.get(f"{console}/orders", timeout=10).text.startswith("<!doctype html>")
        assert httpx.get(f"{console}/config.json", timeout=10).json() == {
            "routerUrl": f"http://localhost:{router_port}/graphql"
        }
        preflight = httpx.options(
            f"http://127.0.0.1:{router_port}/graphql",
            headers={"origin": console, "access-control-request-method": "POST"},
            timeout=10,
        )
        assert preflight.headers.get("access-control-allow-origin") == console
        # The reference storefront likewise, its config in its own shape (examples/storefront/src/config.ts).
        storefront = f"http://localhost:{ports['storefront']}"
        assert f"{storefront}/" in first.text()
        assert httpx.get(f"{storefront}/product/x", timeout=10).text.startswith("<!doctype html>")
        assert httpx.get(f"{storefront}/config.json", timeout=10).json() == {
            "graphqlUrl": f"http://localhost:{router_port}/graphql",
            "websocketUrl": None,
        }
        # One process hosts every subgraph (myshop.host), beside the router's.
        services = [p for p in first.children() if "myshop.process serve" in " ".join(p.cmdline())]
        assert len(services) == 1 and set(registry.SUBGRAPHS) <= set(services[0].cmdline())
        services += [p for p in first.children() if "myshop.process router" in " ".join(p.cmdline())]
        assert len(services) == 2
        order_through(f"http://127.0.0.1:{router_port}/graphql", "customer@myshop.dev")
        # The newcomer's welcome mail landed in the local SMTP sink `myshop up` started, as a file.
        assert "Mail: an SMTP sink on" in first.text()
        mail_dir = tmp_path / "data" / "mail"
        deadline = time.monotonic() + 30
        link = f"{storefront}/verify-email?token="
        # The newcomer's mail links to the storefront's page that confirms the address.
        while not any(link in body for body in mail_bodies(mail_dir, "first@example.com")):
            assert time.monotonic() < deadline, f"no mail with {link} in {mail_dir}"
            time.sleep(0.3)
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()

    # The services die with their parent; the embedded servers are left behind, as after a crash.
    _, alive = psutil.wait_procs(services, timeout=15)
    assert not alive, f"services outlived a SIGKILLed myshop up: {alive}"

    # The second start needs only what it exercises (users, products) to show the recovery: the embedded
    # servers reused and the data kept (no demo data loaded again: the search finds the first run's).
    second = Up(env, tmp_path / "second.log", ("users", "products", "--no-seed"))
    try:
        second.wait_up()
        assert "reusing the embedded" in second.text() or "started an embedded" in second.text()
        # Data from before the crash is still there: the first user can log in.
        graphql(
            users,
            'mutation($p: String!) { login(email: "first@example.com", password: $p) { accessToken } }',
            {"p": "correct horse battery"},
        )
        exercise(users, products, "second@example.com")
    finally:
        returncode = second.stop(signal.SIGINT)
    assert returncode == 0, second.text()
    assert "stopped." in second.text()
    leftovers = [p for p in psutil.process_iter(["cmdline", "cwd"]) if str(tmp_path) in (p.info["cwd"] or "")]
    assert not leftovers, f"processes left running: {leftovers}"


@pytest.mark.parametrize(
    ("signum", "setup", "layout"),
    [(signal.SIGTERM, "-", ("--process-per-service",)), (signal.SIGINT, "ignore-sigint", ())],
    ids=["SIGTERM-process-per-service", "SIGINT-inherited-ignored-hosted"],
)
def test_a_stop_signal_stops_every_child_and_ends_myshop_up(
    tmp_path: Path, signum: signal.Signals, setup: str, layout: tuple[str, ...]
) -> None:
    # Given `myshop up users` (users and the router) on this run's PostgreSQL and Redis, databases of its own,
    # users in a process of its own or hosted (myshop.host)
    prefix = f"{os.environ['MYSHOP_DATABASE_PREFIX']}up{uuid.uuid4().hex[:6]}_"
    users, router, console, storefront = (free_port() for _ in range(4))
    env = {
        **os.environ,
        "MYSHOP_DATABASE_PREFIX": prefix,
        "MYSHOP_DATA_DIR": str(tmp_path / "data"),
        "MYSHOP_USERS_PORT": str(users),
        "MYSHOP_ROUTER_PORT": str(router),
        "MYSHOP_CONSOLE_PORT": str(console),
        "MYSHOP_STOREFRONT_PORT": str(storefront),
    }
    # No ops token configured: this run makes one and prints it.
    env.pop("MYSHOP_ROUTER_OPS__TOKEN", None)
    up = Up(
        env,
        tmp_path / "up.log",
        ("users", "--no-seed", "--no-mail-sink", "--no-embedded", *layout),
        setup,
    )
    try:
        up.wait_up()
        printed = re.search(r"curl -H 'Authorization: Bearer ([\w-]+)' (\S+/metrics)", up.text())
        assert printed is not None, up.text()
        token, metrics = printed.groups()
        assert httpx.get(metrics, timeout=10).status_code != 200
        opened = httpx.get(metrics, headers={"authorization": f"Bearer {token}"}, timeout=10)
        assert opened.status_code == 200 and "myshop_router" in opened.text
        children = up.children()
        commands = [" ".join(child.cmdline()) for child in children]
        ours = ("myshop.process serve users", "myshop.process router")
        assert sum(any(command in c for command in ours) for c in commands) == 2, commands
        assert any(("--logs" in c) == (not layout) for c in commands if "serve users" in c), commands

        # When it gets the signal
        returncode = up.stop(signum)
    finally:
        if up.process.poll() is None:
            up.process.kill()
            up.process.wait()
        asyncio.run(drop_database(env["MYSHOP_POSTGRES_URL"], f"{prefix}users"))

    # Then it stopped its children (none is left) and ended cleanly
    assert returncode == 0, up.text()
    assert "stopped." in up.text()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"children outlived myshop up: {alive}"


def run_module(argv: list[str], env: dict[str, str], setup: str = "-") -> subprocess.CompletedProcess[str]:
    """`python -m <argv>` from the repository, to its end (two minutes at most), its output kept."""
    return subprocess.run(
        python_module(argv, setup),
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_stop_signal_that_comes_during_the_exec_into_the_watcher_stops_the_run(tmp_path: Path) -> None:
    # Given the watcher's state (nothing left to stop) and a SIGINT pending when its image starts
    state = {"children": [], "data_dir": str(tmp_path), "embedded": [], "mail": None}
    env = {**os.environ, watch.STATE_VARIABLE: json.dumps(state)}

    # When it starts
    result = run_module(["myshop.watch"], env, setup="sigint-pending")

    # Then the signal stops it cleanly once it can handle it: not a KeyboardInterrupt while Python starts
    assert result.returncode == 0, result.stderr
    assert "stopped." in result.stdout
    assert "Traceback" not in result.stderr


def test_a_host_logs_each_service_to_its_file_and_stops_them_all_when_one_cannot_start(
    tmp_path: Path,
) -> None:
    # Given users and products hosted in one process (myshop.host), on this run's servers and databases, and
    # products' port taken by another process
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    users, console, storefront = (free_port() for _ in range(3))
    env = {
        **os.environ,
        "MYSHOP_USERS_PORT": str(users),
        "MYSHOP_PRODUCTS_PORT": str(taken.getsockname()[1]),
        "MYSHOP_CONSOLE_PORT": str(console),
        "MYSHOP_STOREFRONT_PORT": str(storefront),
        "MYSHOP_LOG_JSON": "true",
        # uvicorn says "Started server process" at INFO, first thing: every service logs at least that.
        "MYSHOP_LOG_LEVEL": "INFO",
    }
    logs = tmp_path / "logs"
    try:
        # When the host starts
        result = run_module(["myshop.process", "serve", "users", "products", "--logs", str(logs)], env)
    finally:
        taken.close()

    # Then products' failure ends users too, and the process with 1, saying why
    assert result.returncode == 1, result.stderr
    assert "products stopped on its own: stopping the others" in result.stderr
    # And each service's lines went to its own file, each naming its service
    lines = {
        name: [json.loads(line) for line in (logs / f"{name}.log").read_text().splitlines()]
        for name in ("users", "products")
    }
    assert lines["users"] and {line["service"] for line in lines["users"]} == {"users"}
    assert {line["service"] for line in lines["products"]} == {"products"}
    assert any("address already in use" in line["message"] for line in lines["products"]), lines["products"]
    assert not any("address already in use" in line["message"] for line in lines["users"])
