"""Federation gateways benchmark: our router (with and without its subgraph-fetch deduplication) against
`@apollo/gateway` and Hive Gateway (its default JavaScript runtime and Hive Router's Rust query planner), over
the same supergraph and the same subgraphs.

The workload is the public graphql-gateways-benchmark's nested query (`users → reviews → product → reviews →
author → reviews → product`, plus `topProducts`) over four stand-in subgraphs (accounts, inventory, products,
reviews: `subgraphs.mjs` on the fixed data of `data.json`) that replay their answers, so the gateways and not
the subgraphs are measured. Two workloads: `identical` (every request the same, as the public benchmark
sends them) and `unique` (the same request with an `Authorization: Bearer ...` of its own each time, which
every gateway forwards to the subgraphs: identical fetches of two requests differ in it, so no gateway can
share them; the subgraphs count the distinct values they see, the proof). Each gateway runs alone, pinned to
one core (`taskset`); `wrk`, the subgraphs and this script share the other. Each gateway's answer is checked
against the one computed here from `data.json` before and after the load; the run exits 1 when an answer was
wrong (or a gateway did not start).

    .venv/bin/python bench/gateways/run.py [--duration 30 --warmup 10 --connections 50] [--only GATEWAY]
        [--workload identical|unique|both] [--scaling] [--hive-dedup-off] [--baseline DIR]

`--baseline DIR` measures, in the same run, the router of another checkout (e.g. `git worktree add
--detach /tmp/base main`): its rows follow ours, so a change and what it changes share the conditions.

Needs `wrk` (installed with apt-get when missing and we are root), Node and `npm ci` (`@apollo/gateway`,
`@apollo/server`, `@apollo/subgraph`, `@apollo/composition`, `@graphql-hive/gateway-runtime`,
`@graphql-hive/router-runtime`, `@graphql-mesh/transport-http`, pinned in package.json)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from graphql import build_schema, graphql_sync

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(HERE.parent))  # bench/: summary's figure format

from summary import figure  # noqa: E402

from shared.composition import compose  # noqa: E402

OURS = "myshop router"  # as configured by default: identical in-flight subgraph fetches deduplicated
OURS_NO_DEDUP = "myshop router, dedup off"  # the row the ratios (and issue 8's acceptance) use
OURS_2_WORKERS = "myshop router, dedup off, 2 workers"  # --scaling: both cores, shared with wrk + subgraphs
# Our router's subgraph-fetch deduplication switch (`traffic.all.deduplicate`,
# router/upstream/traffic_config.py).
NO_DEDUP_ENV = {"MYSHOP_ROUTER_TRAFFIC__ALL__DEDUPLICATE": "false"}
# Our router serves `/metrics` only to its ops token (router/ops/access.py); older checkouts ignore it.
OPS_TOKEN = "bench-gateways"
OPS_ENV = {"MYSHOP_ROUTER_OPS__TOKEN": OPS_TOKEN}
# The unique-credentials workload's header rule: the client's Authorization to every subgraph (router.yaml's
# `headers: {all: {request: [{propagate: {named: authorization}}]}}`; the reference gateways have theirs in
# their .mjs). With no request header rule at all our router forwards every end-to-end header, this one too.
HEADERS_ENV = {"MYSHOP_ROUTER_HEADERS__ALL__REQUEST": '[{"propagate": {"named": "authorization"}}]'}
WORKLOADS = ("identical", "unique")
SUBGRAPHS = ("accounts", "inventory", "products", "reviews")
NESTED_QUERY = (HERE / "query.graphql").read_text(encoding="utf-8")
# The router's own overhead: one field of one subgraph, through a gateway and straight to the subgraph.
SIMPLE_QUERY = "query Simple { me { name } }"
SIMPLE_SUBGRAPH = "accounts"
NPM_PACKAGES = (
    "@apollo/gateway",
    "@apollo/server",
    "@apollo/subgraph",
    "@apollo/composition",
    "@graphql-hive/gateway-runtime",
    "@graphql-hive/router-runtime",
    "@graphql-mesh/transport-http",
)

# The API schema the clients see, answered straight from data.json: the oracle for the gateways' answers.
API_SDL = """
type Query { me: User  user(id: ID!): User  users: [User]  topProducts(first: Int = 5): [Product] }
type User { id: ID!  name: String  username: String  birthday: Int  reviews: [Review] }
type Product {
  upc: String!  name: String  price: Int  weight: Int
  inStock: Boolean  shippingEstimate: Int  reviews: [Review]
}
type Review { id: ID!  body: String  product: Product  author: User }
"""


# --- the expected answers ---


def expected_answer(query: str) -> dict[str, Any]:
    """Execute `query` on the unfederated API schema over data.json: what every gateway must answer."""
    data = json.loads((HERE / "data.json").read_text(encoding="utf-8"))
    users = {user["id"]: dict(user, reviews=[]) for user in data["users"]}
    stock = {item["upc"]: item["inStock"] for item in data["inventory"]}
    products = {}
    for product in data["products"]:
        # The inventory subgraph's @requires rule: free shipping above 1000, else half the weight.
        estimate = 0 if product["price"] > 1000 else round(product["weight"] / 2)
        products[product["upc"]] = dict(
            product, inStock=stock[product["upc"]], shippingEstimate=estimate, reviews=[]
        )
    for review in data["reviews"]:
        entry = dict(review, product=products[review["product"]], author=users[review["author"]])
        users[review["author"]]["reviews"].append(entry)
        products[review["product"]]["reviews"].append(entry)
    root = {
        "me": users["1"],
        "user": lambda _info, id: users.get(id),
        "users": list(users.values()),
        "topProducts": lambda _info, first=5: list(products.values())[:first],
    }
    result = graphql_sync(build_schema(API_SDL), query, root_value=root)
    if result.errors:
        raise RuntimeError(f"the expected answer cannot be computed: {result.errors}")
    return {"data": result.data}


def first_difference(got: Any, want: Any, path: str = "") -> str | None:
    """Where `got` departs from `want`, key order included (an answer keeps the query's field order)."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{path or '.'}: expected an object, got {_short(got)}"
        if list(got) != list(want):
            return f"{path or '.'}: keys {list(got)} instead of {list(want)}"
        for key, value in want.items():
            if (where := first_difference(got[key], value, f"{path}.{key}")) is not None:
                return where
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"{path}: expected a list of {len(want)}, got {_short(got)}"
        for index, (item, wanted) in enumerate(zip(got, want, strict=True)):
            if (where := first_difference(item, wanted, f"{path}[{index}]")) is not None:
                return where
        return None
    if got != want or type(got) is not type(want):
        return f"{path}: expected {want!r}, got {_short(got)}"
    return None


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass
class Check:
    ok: bool
    detail: str = ""
    size: int = 0  # bytes of the answer, when right: wrk counts answers of another size as wrong


def check_answer(url: str, query: str, want: dict[str, Any], authorization: str | None = None) -> Check:
    headers = {"accept": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    try:
        response = httpx.post(url, json={"query": query}, headers=headers, timeout=30)
    except httpx.HTTPError as error:
        return Check(False, f"no answer: {error!r}")
    try:
        got = response.json()
    except ValueError:
        return Check(False, f"HTTP {response.status_code}, not JSON: {response.text[:200]!r}")
    if response.status_code != 200 or got.get("errors"):
        errors = [error.get("message") for error in got.get("errors") or []][:3]
        return Check(False, f"HTTP {response.status_code}, errors {errors}")
    if (where := first_difference(got, want)) is not None:
        return Check(False, f"wrong answer at {where}")
    return Check(True, size=len(response.content))


# --- processes ---


def free_port(avoid: set[int]) -> int:
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in avoid and port != 4000:  # 4000 is the router's default: leave it to `myshop up`
            avoid.add(port)
            return port


class Started:
    """A process this script started in a session of its own, stopped with its whole group."""

    def __init__(self, name: str, argv: Sequence[str], log_dir: Path, env: dict[str, str] | None = None):
        self.name = name
        self.log_path = log_dir / f"{name.replace('/', '_').replace('@', '')}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            list(argv),
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.ps = psutil.Process(self.process.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def tree(self) -> list[psutil.Process]:
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.tree():
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        total = 0
        for process in self.tree():
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def log_tail(self, lines: int = 15) -> str:
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


class PeakRss:
    """Samples the resident memory of a process tree every `interval` seconds, keeping the peak."""

    def __init__(self, started: Started, interval: float = 0.1) -> None:
        self.started = started
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.started.rss_bytes())
            self._stop.wait(self.interval)

    def close(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def wait_until(ready: Callable[[], bool], started: Started, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not started.alive():
            raise RuntimeError(
                f"{started.name} exited with status {started.process.returncode}:\n{started.log_tail()}"
            )
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{started.name} not ready within {timeout:g}s:\n{started.log_tail()}")


def answers_http(url: str) -> bool:
    try:
        return httpx.post(url, json={"query": "{ __typename }"}, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


# --- load ---


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def run_wrk(
    url: str,
    body_file: Path,
    *,
    seconds: float,
    connections: int,
    threads: int,
    expected_bytes: int,
    cpu: int,
    token_prefix: str = "",
) -> Load:
    """wrk's run; with `token_prefix` each request carries an Authorization of its own (wrk.lua)."""
    argv = [
        "taskset", "-c", str(cpu), "wrk", f"-t{min(threads, connections)}", f"-c{connections}",
        f"-d{max(1, round(seconds))}s", "--timeout", "60s", "-s", str(HERE / "wrk.lua"),
        url, "--", str(body_file), str(expected_bytes), token_prefix,
    ]  # fmt: skip
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    line = next((x for x in completed.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
    result = json.loads(line.removeprefix("BENCH_RESULT "))
    return Load(
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        errors={
            name: result[name]
            for name in ("socket_errors", "timeouts", "non_200", "graphql_errors", "wrong_size")
            if result[name]
        },
    )


def core_busy(cpu: int) -> float:
    """Seconds core `cpu` has been busy since boot, whoever ran on it (from /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            if line.startswith(f"cpu{cpu} "):
                ticks = [int(value) for value in line.split()[1:]]
                idle = ticks[3] + ticks[4]  # idle + iowait
                return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError(f"no cpu{cpu} in /proc/stat")


def subgraph_requests(stats_url: str) -> int:
    return sum(httpx.get(stats_url, timeout=5).json().values())


@dataclass(frozen=True)
class AuthorizationSeen:
    """What subgraphs.mjs counted of the `Authorization` headers of the subgraph requests (all subgraphs)."""

    with_header: int = 0
    without_header: int = 0
    distinct: int = 0

    @classmethod
    def now(cls, stats_url: str) -> AuthorizationSeen:
        seen = httpx.get(stats_url + "/authorization", timeout=5).json()
        return cls(seen["with"], seen["without"], seen["distinct"])

    def __sub__(self, before: AuthorizationSeen) -> AuthorizationSeen:
        return AuthorizationSeen(
            self.with_header - before.with_header,
            self.without_header - before.without_header,
            self.distinct - before.distinct,
        )


# --- gateways ---


@dataclass(frozen=True)
class Gateway:
    name: str
    argv: Callable[[Path, int], list[str]]  # (supergraph file, port) -> command
    env: dict[str, str] = field(default_factory=dict)
    path: str = "/graphql"
    both_cores: bool = False  # pinned to the gateway's and the client's core (the scaling line)
    ours: bool = False  # our router: its /metrics tells how many subgraph fetches it deduplicated


def baseline_rows(checkout: Path) -> list[Gateway]:
    """Our router as `checkout` (another revision's tree) has it, with and without deduplication: its
    `myshop` entry point (from its pyproject.toml) run by this .venv's Python with the checkout first on
    the path (ahead of the working directory, this tree, which `python -c` puts first)."""
    scripts = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["myshop"].partition(":")
    python = str(REPO_ROOT / ".venv/bin/python")
    start = (
        f"import sys; sys.path.insert(0, {str(checkout.resolve())!r}); sys.argv[0] = 'myshop'; "
        f"from {module} import {function} as main; main()"
    )
    env = {"MYSHOP_LOG_LEVEL": "WARNING", **OPS_ENV}

    env.update(HEADERS_ENV)

    def theirs(supergraph: Path, port: int) -> list[str]:
        return [
            python,
            "-c",
            start,
            "router",
            "--supergraph",
            str(supergraph),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]

    label = f" @ {checkout.name}"
    return [
        Gateway(OURS + label, theirs, env=env, ours=True),
        Gateway(OURS_NO_DEDUP + label, theirs, env={**env, **NO_DEDUP_ENV}, ours=True),
    ]


def gateways(
    scaling: bool = True, hive_dedup_off: bool = True, baseline: Path | None = None
) -> list[Gateway]:
    """The gateways in table order; the 2-worker scaling line of ours only with `scaling`, Hive Gateway
    without its upstream deduplication only with `hive_dedup_off`, the router of the `baseline` checkout
    (each of its rows right after ours) only with it."""
    node = shutil.which("node") or "node"
    listen = ["--host", "127.0.0.1", "--port"]
    myshop = str(REPO_ROOT / ".venv/bin/myshop")
    apollo = str(HERE / "apollo_gateway.mjs")
    hive = str(HERE / "hive_gateway.mjs")
    quiet = {"MYSHOP_LOG_LEVEL": "WARNING"}
    ours_env = {**quiet, **OPS_ENV, **HEADERS_ENV}

    def ours(supergraph: Path, port: int) -> list[str]:
        return [myshop, "router", "--supergraph", str(supergraph), *listen, str(port)]

    chosen = [
        Gateway(OURS, ours, env=ours_env, ours=True),
        Gateway(OURS_NO_DEDUP, ours, env={**ours_env, **NO_DEDUP_ENV}, ours=True),
    ]
    if baseline is not None:
        base, base_no_dedup = baseline_rows(baseline)
        chosen = [chosen[0], base, chosen[1], base_no_dedup]
    if scaling:
        chosen.append(
            Gateway(
                OURS_2_WORKERS,
                lambda supergraph, port: [*ours(supergraph, port), "--workers", "2"],
                env={**ours_env, **NO_DEDUP_ENV},
                both_cores=True,
                ours=True,
            )
        )
    hive_rows = [
        ("Hive Gateway", []),
        ("Hive Gateway + Rust QP", ["--rust-qp"]),
    ]
    if hive_dedup_off:
        hive_rows += [
            ("Hive Gateway, dedup off", ["--no-upstream-dedup"]),
            ("Hive Gateway + Rust QP, dedup off", ["--rust-qp", "--no-upstream-dedup"]),
        ]
    return [
        *chosen,
        Gateway(
            "@apollo/gateway",
            lambda supergraph, port: [node, apollo, str(supergraph), *listen, str(port)],
            env={"NODE_ENV": "production"},
        ),
        *(
            Gateway(
                name,
                lambda supergraph, port, flags=flags: [
                    node,
                    hive,
                    str(supergraph),
                    *listen,
                    str(port),
                    *flags,
                ],
                env={"NODE_ENV": "production"},
            )
            for name, flags in hive_rows
        ),
    ]


@dataclass
class Run:
    """One workload's measured load through one gateway."""

    load: Load
    load_fetches_per_request: float = 0.0  # under load: below fetch/req when fetches were shared
    gateway_cpu: float = 0.0
    subgraph_cpu: float = 0.0
    others_cpu: float = 0.0  # what other processes took of the gateway's core: the run was not alone there
    authorization: AuthorizationSeen = AuthorizationSeen()  # what the subgraphs saw during the run

    @property
    def per_cpu_second(self) -> float:
        """Answers per second of the gateway's CPU: its pace had it had the core to itself."""
        return self.load.rps / self.gateway_cpu if self.gateway_cpu else 0.0


@dataclass
class Row:
    gateway: str
    started: bool = False
    failure: str = ""
    before: Check | None = None
    after: Check | None = None
    runs: dict[str, Run] = field(default_factory=dict)  # workload -> its run
    peak_rss: int = 0
    fetches_per_request: float = 0.0
    # One request alone with an Authorization: the subgraph requests that carried it (= fetch/req when the
    # gateway forwards it to every subgraph).
    forwarded_per_request: int | None = None
    deduplicated: dict[str, int | None] = field(default_factory=dict)  # ours: workload -> fetches it shared
    simple: Load | None = None
    simple_check: Check | None = None

    @property
    def wrong(self) -> bool:
        checks = [self.before, self.after, self.simple_check]
        return not self.started or any(check is not None and not check.ok for check in checks)


@dataclass
class Bench:
    args: argparse.Namespace
    work_dir: Path
    supergraph: Path
    subgraphs: Started
    stats_url: str
    nested_body: Path
    simple_body: Path
    nested_answer: dict[str, Any]
    simple_answer: dict[str, Any]
    ports: set[int]
    runs: int = 0  # wrk runs so far (each unique-credentials run has tokens of its own)

    def measure(self, gateway: Gateway) -> Row:
        row = Row(gateway.name)
        port = free_port(self.ports)
        url = f"http://127.0.0.1:{port}{gateway.path}"
        cpus = (
            f"{self.args.gateway_cpu},{self.args.client_cpu}"
            if gateway.both_cores
            else str(self.args.gateway_cpu)
        )
        argv = ["taskset", "-c", cpus, *gateway.argv(self.supergraph, port)]
        started = Started(gateway.name, argv, self.work_dir, gateway.env)
        rss = PeakRss(started)
        workloads = self.workloads
        try:
            wait_until(lambda: answers_http(url), started, timeout=90)
            row.started = True
            # One request alone, its subgraph fetches counted exactly (under load, requests still in flight at
            # the end would blur the count).
            served = subgraph_requests(self.stats_url)
            row.before = check_answer(url, NESTED_QUERY, self.nested_answer)
            row.fetches_per_request = subgraph_requests(self.stats_url) - served
            say(f"{gateway.name}: answer before the load {describe(row.before)}")
            if "unique" in workloads:
                # The same with a token: did each subgraph request carry it?
                seen = AuthorizationSeen.now(self.stats_url)
                with_token = check_answer(url, NESTED_QUERY, self.nested_answer, "Bearer bench-alone")
                row.forwarded_per_request = (AuthorizationSeen.now(self.stats_url) - seen).with_header
                if not with_token.ok:
                    row.before = with_token
            if self.args.warmup > 0:
                unique = workloads[0] == "unique"
                self.load(url, self.nested_body, self.args.warmup, row.before, unique=unique)
                self.drain()
            for workload in workloads:
                run = self.run_workload(gateway, started, url, workload, row.before)
                row.runs[workload] = run
                if gateway.ours:
                    total = deduplicated_fetches(url.removesuffix(gateway.path) + "/metrics")
                    before = sum(value or 0 for value in row.deduplicated.values())
                    row.deduplicated[workload] = None if total is None else total - before
                say(f"{gateway.name}, {workload}: {run.load.rps:,.1f} req/s, errors {run.load.errors or 0}")
            row.after = check_answer(url, NESTED_QUERY, self.nested_answer)
            say(f"{gateway.name}: answer after the load {describe(row.after)}")
            row.simple_check = check_answer(url, SIMPLE_QUERY, self.simple_answer)
            row.simple = self.load(
                url, self.simple_body, self.simple_seconds, row.simple_check, connections=1
            )
        except RuntimeError as error:
            row.failure = str(error).splitlines()[0]
            say(f"{gateway.name}: {error}")
        finally:
            row.peak_rss = rss.close()
            started.stop()
        return row

    @property
    def workloads(self) -> tuple[str, ...]:
        return WORKLOADS if self.args.workload == "both" else (self.args.workload,)

    def run_workload(
        self, gateway: Gateway, started: Started, url: str, workload: str, check: Check | None
    ) -> Run:
        cpu_before = (
            started.cpu_seconds(),
            self.subgraphs.cpu_seconds(),
            core_busy(self.args.gateway_cpu),
        )
        served = subgraph_requests(self.stats_url)
        seen = AuthorizationSeen.now(self.stats_url)
        clock = time.monotonic()
        load = self.load(url, self.nested_body, self.args.duration, check, unique=workload == "unique")
        wall = time.monotonic() - clock
        run = Run(load)
        run.gateway_cpu = (started.cpu_seconds() - cpu_before[0]) / wall
        run.subgraph_cpu = (self.subgraphs.cpu_seconds() - cpu_before[1]) / wall
        core = (core_busy(self.args.gateway_cpu) - cpu_before[2]) / wall
        run.others_cpu = max(0.0, core - run.gateway_cpu)
        self.drain()
        # The requests in flight when wrk stops made their fetches uncounted: a slight overestimate.
        if load.requests:
            run.load_fetches_per_request = (subgraph_requests(self.stats_url) - served) / load.requests
        run.authorization = AuthorizationSeen.now(self.stats_url) - seen
        return run

    def drain(self, quiet: float = 0.5, timeout: float = 60) -> None:
        """Wait out the requests wrk left in flight at its end: no subgraph request for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        served = subgraph_requests(self.stats_url)
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = subgraph_requests(self.stats_url)
            if now == served:
                return
            served = now

    def direct_simple(self, subgraph_url: str) -> Load:
        check = check_answer(subgraph_url, SIMPLE_QUERY, self.simple_answer)
        if not check.ok:
            raise RuntimeError(
                f"the {SIMPLE_SUBGRAPH} subgraph answers the simple query wrong: {check.detail}"
            )
        return self.load(subgraph_url, self.simple_body, self.simple_seconds, check, connections=1)

    @property
    def simple_seconds(self) -> float:
        return min(self.args.duration, self.args.simple_duration)

    def load(
        self,
        url: str,
        body: Path,
        seconds: float,
        check: Check | None,
        connections: int | None = None,
        unique: bool = False,
    ) -> Load:
        """wrk's run; `unique`: each request with an Authorization of its own (a fresh prefix per run)."""
        self.runs += 1
        return run_wrk(
            url,
            body,
            seconds=seconds,
            connections=connections or self.args.connections,
            threads=self.args.threads,
            expected_bytes=check.size if check is not None and check.ok else 0,
            cpu=self.args.client_cpu,
            token_prefix=f"r{os.getpid()}x{self.runs}" if unique else "",
        )


def deduplicated_fetches(metrics_url: str) -> int | None:
    """The router's `myshop_router_subgraph_deduplicated` counters summed (one worker's, with --workers)."""
    try:
        text = httpx.get(metrics_url, headers={"authorization": f"Bearer {OPS_TOKEN}"}, timeout=5).text
    except httpx.HTTPError:
        return None
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("myshop_router_subgraph_deduplicated") and "_created" not in line
    ]
    return round(sum(values)) if values else None


def rate(per_second: float) -> str:
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.1f}"


def describe(check: Check | None) -> str:
    if check is None:
        return "not checked"
    return "right" if check.ok else f"WRONG ({check.detail})"


# --- the report ---


LEGEND = """\
answer: checked against data.json before and after the load.
errors: socket errors, timeouts, non-200, bodies with GraphQL errors or of another size than the answer.
peak RSS: the gateway's process tree (MiB), over the whole row (both workloads). fetch/req: subgraph requests
for one gateway request, alone; load f/r: subgraph requests per answered request under load (lower than
fetch/req when identical in-flight fetches were shared: our router by default, Hive Gateway's executor-http by
default; Apollo Gateway never; nobody in the unique-credentials workload).
auth/req (unique only): distinct Authorization values the subgraphs saw per answered request (1.00: each
request's own reached them; the in-flight requests at wrk's end make it slightly over); no auth: subgraph
requests without one (0: the gateway forwarded it on every fetch); fwd/req: of one request alone, the subgraph
requests that carried its token (= fetch/req).
ours ÷ it: req/s of "myshop router, dedup off" (the row the acceptance uses) over the row's, same workload.
gw CPU, sub CPU: share of one core the gateway, the subgraphs used during the run.
others: share of the gateway's core that other processes took (noise: the gateway was not alone there).
req/cpu-s: answers per second of the gateway's own CPU (req/s ÷ gw CPU), and its ours ÷ it: the figures that
hold when the machine is shared (a gateway starved of its core by others loses req/s, not req/cpu-s)."""

WORKLOAD_TITLES = {
    "identical": "identical requests",
    "unique": "unique credentials (an Authorization of its own per request, forwarded to every subgraph)",
}


def print_report(
    args: argparse.Namespace, rows: list[Row], direct: Load | None, load_average: tuple[str, str]
) -> None:
    ours = next((row for row in rows if row.gateway == OURS_NO_DEDUP), None)
    width = max(len(row.gateway) for row in [*rows, Row(f"{SIMPLE_SUBGRAPH} subgraph (direct)")])
    workloads = WORKLOADS if args.workload == "both" else (args.workload,)
    for workload in workloads:
        unique = workload == "unique"
        print()
        print(
            f"Nested query (users → reviews → product → reviews → author, + topProducts), "
            f"{WORKLOAD_TITLES[workload]}: {args.connections} connections, {args.duration:g} s after "
            f"{args.warmup:g} s warm-up; gateway on CPU {args.gateway_cpu}, wrk + subgraphs on CPU "
            f"{args.client_cpu}"
        )
        header = (
            f"{'gateway':<{width}} {'answer':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
            f"{'peak RSS':>9} {'fetch/req':>9} {'load f/r':>8} "
            + (f"{'auth/req':>8} {'no auth':>7} {'fwd/req':>7} " if unique else "")
            + f"{'gw CPU':>7} {'others':>6} {'sub CPU':>7} {'ours ÷ it':>9} {'req/cpu-s':>9} {'ours ÷ it':>9}"
        )
        print(header)
        print("-" * len(header))
        reference = ours.runs.get(workload) if ours is not None else None
        for row in rows:
            run = row.runs.get(workload)
            if run is None:
                print(f"{row.gateway:<{width}} {'FAILED':>6}  {row.failure or 'not measured'}")
                continue
            load = run.load
            answer = "WRONG" if row.wrong else "right"
            if load.requests == 0:
                print(f"{row.gateway:<{width}} {answer:>6}  no request completed within the run")
                continue
            ratio = cpu_ratio = "—"
            if reference is not None and reference.load.requests and row is not ours:
                ratio = f"{reference.load.rps / load.rps:.2f}x"
                if run.gateway_cpu and reference.gateway_cpu:
                    cpu_ratio = f"{reference.per_cpu_second / run.per_cpu_second:.2f}x"
            auth = ""
            if unique:
                seen = run.authorization
                forwarded = "—" if row.forwarded_per_request is None else str(row.forwarded_per_request)
                auth = f"{seen.distinct / load.requests:>8.2f} {seen.without_header:>7} {forwarded:>7} "
            print(
                f"{row.gateway:<{width}} {answer:>6} {rate(load.rps):>8} {load.p50_ms:>8.2f} "
                f"{load.p99_ms:>8.2f} {load.error_count:>7} {row.peak_rss / 2**20:>5.0f} MiB "
                f"{row.fetches_per_request:>9.2f} {run.load_fetches_per_request:>8.2f} {auth}"
                f"{run.gateway_cpu:>6.0%} {run.others_cpu:>6.0%} {run.subgraph_cpu:>7.0%} {ratio:>9} "
                f"{rate(run.per_cpu_second):>9} {cpu_ratio:>9}"
            )
        for row in rows:
            run = row.runs.get(workload)
            if run is not None and run.load.errors:
                print(f"  {row.gateway}: errors under load: {run.load.errors}")
            if row.deduplicated.get(workload) is not None:
                print(
                    f"  {row.gateway}: subgraph fetches it deduplicated (its /metrics): "
                    f"{row.deduplicated[workload]:,}"
                )
    print()
    for row in rows:
        checks = {
            "before the load": row.before,
            "after the load": row.after,
            "to the simple query": row.simple_check,
        }
        for when, check in checks.items():
            if check is not None and not check.ok:
                print(f"  {row.gateway}: answer {when} WRONG: {check.detail}")
        if row.gateway == OURS_2_WORKERS:
            print(
                f"  {row.gateway}: on CPUs {args.gateway_cpu},{args.client_cpu} (the second shared with wrk "
                "and the subgraphs); gw CPU in one core's share (200% = both); peak RSS of the parent and "
                "both workers"
            )

    print()
    print(f"Simple query `{SIMPLE_QUERY}`, 1 connection, {min(args.duration, args.simple_duration):g} s")
    header = (
        f"{'target':<{width}} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'overhead p50 ms':>16}"
    )
    print(header)
    print("-" * len(header))
    base = direct.p50_ms if direct else float("nan")
    if direct is not None:
        print(
            f"{SIMPLE_SUBGRAPH + ' subgraph (direct)':<{width}} {rate(direct.rps):>8} {direct.p50_ms:>8.2f} "
            f"{direct.p99_ms:>8.2f} {direct.error_count:>7} {'—':>16}"
        )
    for row in rows:
        if row.simple is None:
            continue
        simple = row.simple
        print(
            f"{row.gateway:<{width}} {rate(simple.rps):>8} {simple.p50_ms:>8.2f} {simple.p99_ms:>8.2f} "
            f"{simple.error_count:>7} {simple.p50_ms - base:>16.2f}"
        )
    print()
    print(f"load average (1, 5, 15 min): {load_average[0]} at the start, {load_average[1]} at the end")
    print(LEGEND)


# --- setup ---


HEADLINE_REFERENCE = "Hive Gateway + Rust QP"  # issue 20: ours, dedup off, >= 2x it on both workloads
HEADLINE_RATIO = 2.0
HEADLINE_RSS_MIB = 100.0


def figures(args: argparse.Namespace, rows: list[Row]) -> list[dict[str, Any]]:
    """The headline figures (bench/summary.py's format): per workload, ours (dedup off) against Hive Gateway
    with the Rust planner in req/s and in answers per CPU-second of the gateway (its pace on a core of its
    own, steadier on a shared machine), and our peak RSS. A wrong answer or an error fails every target."""
    ours = next((row for row in rows if row.gateway == OURS_NO_DEDUP), None)
    hive = next((row for row in rows if row.gateway == HEADLINE_REFERENCE), None)
    if ours is None:
        return []
    clean = not ours.wrong and all(run.load.error_count == 0 for run in ours.runs.values())
    out: list[dict[str, Any]] = []
    for workload in WORKLOADS if args.workload == "both" else (args.workload,):
        run = ours.runs.get(workload)
        theirs = hive.runs.get(workload) if hive is not None else None
        if run is None:
            continue
        for label, unit, value, reference in (
            ("req/s", "req/s", run.load.rps, theirs.load.rps if theirs else None),
            (
                "answers per gateway CPU-second",
                "req/cpu-s",
                run.per_cpu_second,
                theirs.per_cpu_second if theirs else None,
            ),
        ):
            out.append(
                figure(
                    f"gateways {workload}: ours (dedup off), {label}",
                    value,
                    unit,
                    reference,
                    f"{HEADLINE_REFERENCE}, same run",
                    target=f"ratio >= {HEADLINE_RATIO:g}",
                    holds=clean and bool(reference) and value / reference >= HEADLINE_RATIO,
                    digits=1,
                )
            )
    peak = ours.peak_rss / 2**20
    out.append(
        figure(
            "gateways: ours (dedup off), peak RSS",
            peak,
            "MiB",
            hive.peak_rss / 2**20 if hive is not None and hive.peak_rss else None,
            f"{HEADLINE_REFERENCE}, same run",
            target=f"<= {HEADLINE_RSS_MIB:g} MiB",
            holds=clean and peak <= HEADLINE_RSS_MIB,
            digits=1,
        )
    )
    return out


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ensure_tools() -> None:
    if shutil.which("wrk") is None:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            say("wrk is missing: apt-get install -y wrk")
            subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
        if shutil.which("wrk") is None:
            sys.exit("bench: wrk not found: install it (Debian/Ubuntu: `apt-get install -y wrk`)")
    for tool in ("node", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: `{tool}` not found on PATH")
    missing = [
        name for name in NPM_PACKAGES if not (REPO_ROOT / "node_modules" / name / "package.json").is_file()
    ]
    if missing:
        sys.exit(f"bench: npm packages missing ({', '.join(missing)}): run `npm ci` in {REPO_ROOT}")
    if not (REPO_ROOT / ".venv/bin/myshop").exists():
        sys.exit(f"bench: {REPO_ROOT / '.venv/bin/myshop'} missing: install the project into .venv")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=30, help="seconds of measured load per gateway")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=50, help="concurrent connections (like k6's VUs)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--simple-duration", type=float, default=10, help="seconds of the simple-query runs")
    parser.add_argument("--gateway-cpu", type=int, default=0, help="the core the gateway is pinned to")
    parser.add_argument(
        "--client-cpu", type=int, default=1, help="the core of wrk, the subgraphs and this script"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[gateway.name for gateway in gateways()],
        help="run only these gateways (a name of ours also picks its --baseline row)",
    )
    parser.add_argument(
        "--workload",
        choices=("identical", "unique", "both"),
        default="both",
        help="identical requests, an Authorization of its own per request (unique credentials), or both",
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help=f"add {OURS_2_WORKERS!r}: `--workers 2` on both cores (shared with wrk and the subgraphs)",
    )
    parser.add_argument(
        "--hive-dedup-off",
        action="store_true",
        help="add both Hive Gateways with upstream deduplication off (deduplicateInflightRequests: false)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also measure the router of this checkout of another revision, each of its rows after ours",
    )
    parser.add_argument(
        "--json", type=Path, help="write the headline figures here (bench/summary.py's format)"
    )
    parser.add_argument(
        "--uncached-subgraphs",
        action="store_true",
        help="execute every subgraph request (no replayed answers)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_tools()
    cores = os.sched_getaffinity(0)
    if not {args.gateway_cpu, args.client_cpu} <= cores or args.gateway_cpu == args.client_cpu:
        sys.exit(f"bench: --gateway-cpu and --client-cpu must be two different cores of {sorted(cores)}")
    os.sched_setaffinity(
        0, {args.client_cpu}
    )  # this script and what it starts, but the gateway, stay off its core

    load_at_start = load_average()
    work_dir = Path(tempfile.mkdtemp(prefix="bench-gateways-"))
    ports: set[int] = set()
    subgraph_ports = {name: free_port(ports) for name in SUBGRAPHS}
    subgraphs = Started(
        "subgraphs",
        [
            shutil.which("node") or "node",
            str(HERE / "subgraphs.mjs"),
            *(f"{n}={p}" for n, p in subgraph_ports.items()),
        ],
        work_dir,
        {"BENCH_SUBGRAPH_CACHE": "0" if args.uncached_subgraphs else "1"},
    )
    try:
        stats_url = f"http://127.0.0.1:{subgraph_ports['accounts']}/stats"
        wait_until(lambda: answers_http(stats_url.replace("/stats", "/graphql")), subgraphs, timeout=30)
        supergraph = work_dir / "supergraph.graphql"
        supergraph.write_text(
            compose(
                [
                    (
                        name,
                        f"http://127.0.0.1:{port}/graphql",
                        (HERE / "schemas" / f"{name}.graphql").read_text(),
                    )
                    for name, port in subgraph_ports.items()
                ],
                repo_root=REPO_ROOT,
            ),
            encoding="utf-8",
        )
        nested_body = work_dir / "nested.json"
        nested_body.write_text(json.dumps({"query": NESTED_QUERY}), encoding="utf-8")
        simple_body = work_dir / "simple.json"
        simple_body.write_text(json.dumps({"query": SIMPLE_QUERY}), encoding="utf-8")
        bench = Bench(
            args=args,
            work_dir=work_dir,
            supergraph=supergraph,
            subgraphs=subgraphs,
            stats_url=stats_url,
            nested_body=nested_body,
            simple_body=simple_body,
            nested_answer=expected_answer(NESTED_QUERY),
            simple_answer=expected_answer(SIMPLE_QUERY),
            ports=ports,
        )
        say(f"supergraph, bodies and logs in {work_dir}")
        chosen = [
            gateway
            for gateway in gateways(
                scaling=args.scaling or bool(args.only),
                hive_dedup_off=args.hive_dedup_off or bool(args.only),
                baseline=args.baseline,
            )
            if not args.only or gateway.name.split(" @ ")[0] in args.only
        ]
        rows = [bench.measure(gateway) for gateway in chosen]
        direct = bench.direct_simple(f"http://127.0.0.1:{subgraph_ports[SIMPLE_SUBGRAPH]}/graphql")
    finally:
        subgraphs.stop()
    print_report(args, rows, direct, (load_at_start, load_average()))
    if args.json is not None:
        args.json.write_text(json.dumps({"figures": figures(args, rows)}, indent=2), encoding="utf-8")
    wrong = [row.gateway for row in rows if row.wrong]
    if wrong:
        print(f"\nWRONG ANSWERS from: {', '.join(wrong)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
