"""`myshop up`: a supervisor for the whole system on one machine.

It makes sure PostgreSQL and Redis answer (embedded ones otherwise), migrates, loads the demo data, starts
every service and then the router as child processes, watches them, and on SIGINT or SIGTERM stops them all
in order and exits. It lives as long as the stack with what it imported, so what needs the settings, the
subgraphs, SQLAlchemy's ORM or Alembic (reading the settings, the connection budget, migrations, demo data)
runs in short-lived children (`myshop up-plan`, `myshop up-prepare`): it idled at 203 MiB RSS holding them
(bench/stack_memory.py). It installs both signal handlers itself, like any supervisor: started as a shell
script's background job, a process inherits SIGINT ignored, and Python then installs no Ctrl-C handler of
its own.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from myshop import devstack, sites, watch
from myshop.embedded import EmbeddedServerError, Infrastructure, ensure_infrastructure

# The processes' names in a column as wide as the longest (notifications).
NAME_WIDTH = len("notifications")


def column(name: str) -> str:
    return name.ljust(NAME_WIDTH)


class StartFailed(Exception):
    """The system could not be started (the message says why); what was started has been stopped."""


class Stop(BaseException):
    """SIGINT or SIGTERM arrived: stop everything (a BaseException, so no `except Exception` swallows it)."""


@dataclass
class Supervisor:
    names: list[str]
    console: Console
    repo_root: Path
    # Each service in a process of its own; otherwise one process hosts them all (myshop.host).
    process_per_service: bool = False
    started: list[devstack.ServiceProcess] = field(default_factory=list)
    # The router's ops token when this run made one (none was configured): printed, so `/metrics` can be read.
    ops_token: str | None = None
    # The web sites of this run (myshop.sites: the admin console), served once the router is up.
    sites: list[sites.Site] = field(default_factory=list)
    _stopping: bool = False

    def say(self, line: str) -> None:
        self.console.print(f"  {line}")

    # --- signals ----------------------------------------------------------------------------------------

    def handle_stop_signals(self) -> None:
        """SIGINT and SIGTERM raise `Stop` in the main thread, once: a second signal while stopping is
        ignored, so the children are still stopped in order."""

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            if not self._stopping:
                self._stopping = True
                raise Stop(signal.Signals(signum).name)

        for signum in watch.STOP_SIGNALS:
            signal.signal(signum, on_signal)

    # --- the run ----------------------------------------------------------------------------------------

    def run(self, *, demo_data: bool, embedded: bool, mail_sink: bool) -> None:
        """Start everything and watch it until a stop signal; raises `StartFailed` if a part fails."""
        self.handle_stop_signals()
        common = self._plan(["up-plan"])
        data_dir = Path(common["data_dir"])
        self.console.print(f"[bold]MyShop[/bold] — data in {data_dir}")
        infra: Infrastructure | None = None
        sink: Any = None
        try:
            infra = self._infrastructure(common, data_dir, embedded)
            plan = self._prepare(demo_data)
            # Each service finds its peers where this run starts them (unless told otherwise).
            for variable, url in plan["peer_env"].items():
                os.environ.setdefault(variable, url)
            if mail_sink and plan["mail"] is not None:
                host, port = plan["mail"]
                from myshop.smtp_sink import start_for_stack

                sink = start_for_stack(self.names, data_dir, (host, port), log=self.say)
            self._plan_sites(plan)
            self._start_services(data_dir / "logs", plan)
            self._start_router(data_dir / "logs", plan)
            self._start_sites(data_dir / "logs", plan)
            print_welcome(self.console, self.started, data_dir, sink, self.ops_token, self.sites)
            self._become_watcher(data_dir, infra, sink, plan["mail"])
        except Stop:
            pass
        finally:
            self._stopping = True  # a signal from here on changes nothing: the stop below runs to its end
            with self.console.status("stopping"):
                devstack.stop_services(self.started)
                if sink is not None:
                    sink.stop()
                if infra is not None:
                    infra.stop()
            self.console.print("stopped." if self.started else "")

    def _plan(self, command: list[str]) -> dict[str, Any]:
        """A child's answer (devstack.plan_of), its log lines said; its failure is the run's."""
        try:
            return devstack.plan_of(command, dict(os.environ), log=self.say)
        except devstack.PlanRefused as exc:
            raise StartFailed(str(exc)) from exc
        except RuntimeError as exc:
            raise StartFailed(str(exc)) from exc

    def _infrastructure(self, common: dict[str, str], data_dir: Path, embedded: bool) -> Infrastructure:
        try:
            infra = ensure_infrastructure(
                common["postgres_url"], common["redis_url"], data_dir, log=self.say, allow_embedded=embedded
            )
        except EmbeddedServerError as exc:
            raise StartFailed(str(exc)) from exc
        # Every settings object from here on (the children's) sees the servers actually in use.
        os.environ.update(devstack.service_env(infra.postgres_url, infra.redis_url))
        os.environ["MYSHOP_DATA_DIR"] = str(data_dir)
        return infra

    def _prepare(self, demo_data: bool) -> dict[str, Any]:
        """The connection budget, migrations and (`demo_data`) the demo data, in a child; where each process
        listens."""
        with self.console.status("migrating" + (" and loading demo data" if demo_data else "")):
            return self._plan(["up-prepare", *self.names, "--seed" if demo_data else "--no-seed"])

    def _start_services(self, logs: Path, plan: dict[str, Any]) -> None:
        """Every service at once (most of a start is importing and connecting, which overlap), then each
        awaited in turn; its time counts from the launch of them all."""
        launched = time.monotonic()
        endpoints = {name: devstack.Endpoint(*plan["services"][name]) for name in self.names}
        with self.console.status(f"starting {', '.join(self.names)}"):
            if self.process_per_service:
                services = [
                    self._started(
                        functools.partial(devstack.start_service, endpoint=endpoints[name]),
                        name,
                        logs,
                        dict(os.environ),
                    )
                    for name in self.names
                ]
            else:
                try:
                    services = devstack.start_services_host(self.names, logs, dict(os.environ), endpoints)
                except RuntimeError as exc:
                    raise StartFailed(str(exc)) from exc
                self.started.extend(services)
        for service in services:
            with self.console.status(f"waiting for {service.name}"):
                self._ready(service)
            took = f"ready in {time.monotonic() - launched:.1f} s"
            self.say(f"[green]✔[/green] {column(service.name)} {service.url}/graphql  ({took})")

    def _start_router(self, logs: Path, plan: dict[str, Any]) -> None:
        supergraph = self.repo_root / "schema" / "supergraph.graphql"
        if not supergraph.exists():
            return
        if not os.environ.get("MYSHOP_ROUTER_OPS__TOKEN") and not plan["router_ops_token"]:
            # Unset, `/metrics` and the detailed readiness would not be served at all: on one's own machine
            # they should be, behind a token of this run's (never a fixed one a copied setup would share).
            self.ops_token = os.environ["MYSHOP_ROUTER_OPS__TOKEN"] = secrets.token_urlsafe(24)
        with self.console.status("starting the router"):
            subgraph_urls = {service.name: f"{service.url}/graphql" for service in self.started}
            start = functools.partial(devstack.start_router, endpoint=devstack.Endpoint(*plan["router"]))
            router = self._started(start, supergraph, subgraph_urls, logs, dict(os.environ))
            # With only some services running, the router is up but not "ready" (a subgraph is missing).
            every_subgraph = set(plan["all_subgraphs"]) <= set(self.names)
            seconds = self._ready(router, path="/health/ready" if every_subgraph else "/health")
        self.say(f"[green]✔[/green] {column('router')} {router.url}/graphql  (ready in {seconds:.1f} s)")

    def _plan_sites(self, plan: dict[str, Any]) -> None:
        """The web sites this run serves (those built), and what the others must know of them: the router
        allows their origins, and the account mails link to the storefront's pages."""
        host, port = plan["router"]
        browser_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
        self.sites, missing = sites.planned_sites(dict(os.environ), f"http://{browser_host}:{port}/graphql")
        for line in missing:
            self.say(f"[yellow]•[/yellow] {line}")
        origins = [origin for site in self.sites for origin in site.origins]
        if origins and "MYSHOP_ROUTER_CORS__ORIGINS" not in os.environ:
            # The sites' pages call the router from their own origins (another port).
            os.environ["MYSHOP_ROUTER_CORS__ORIGINS"] = json.dumps(origins)
        storefront = next((site for site in self.sites if site.name == "storefront"), None)
        if storefront is not None:
            # The mails' verify-email, reset-password and cart links open the storefront's pages.
            os.environ.setdefault("MYSHOP_NOTIFICATIONS_ACCOUNT_LINK_BASE_URL", storefront.url.rstrip("/"))

    def _start_sites(self, logs: Path, plan: dict[str, Any]) -> None:
        """The web sites (the console, the storefront), in one small process of their own, once the router is
        up."""
        if not self.sites:
            return
        for site in self.sites:
            devstack.check_port_free(site.name, devstack.Endpoint(site.host, site.port))
        command = [sys.executable, "-m", "myshop.process", "sites", sites.encode(self.sites)]
        first = devstack.Endpoint(self.sites[0].host, self.sites[0].port)
        with self.console.status("starting the web sites"):
            process = devstack.launch("sites", command, logs, dict(os.environ))
            service = devstack.ServiceProcess("sites", first, process, logs / "sites.log")
            self.started.append(service)
            seconds = self._ready(service, path="/health")
        for site in self.sites:
            self.say(f"[green]✔[/green] {column(site.name)} {site.url}  (ready in {seconds:.1f} s)")

    def _started(self, start: Callable[..., devstack.ServiceProcess], *args: Any) -> devstack.ServiceProcess:
        try:
            service = start(*args)
        except RuntimeError as exc:
            raise StartFailed(str(exc)) from exc
        self.started.append(service)
        return service

    def _ready(self, service: devstack.ServiceProcess, path: str = "/health/ready") -> float:
        try:
            return devstack.wait_ready(service, path=path)
        except RuntimeError as exc:
            log = service.output if service.process.poll() is not None else service.log_path
            raise StartFailed(f"{exc}; its log:\n{devstack.tail(log)}") from exc

    def _become_watcher(self, data_dir: Path, infra: Infrastructure, sink: Any, mail: Any) -> None:
        """This process becomes `myshop.watch` (os.execv: the same pid, keeping its children, none of what
        it imported; see there), which watches and at the end stops what was started here."""
        state = {
            "children": [
                {"name": ", ".join(s.name for s in group), "pid": pid, "log": str(group[0].output)}
                for pid, group in devstack.by_process(self.started).items()
            ],
            "data_dir": str(data_dir),
            "embedded": infra.embedded,
            "mail": mail if sink is not None else None,
        }
        if sink is not None:
            sink.stop()  # a thread of this image: the watcher starts its own on the same address
        sys.stdout.flush()
        sys.stderr.flush()
        os.environ[watch.STATE_VARIABLE] = json.dumps(state)
        # Blocked, not ignored, across the exec: a stop signal arriving while the new image starts (before
        # its handlers exist, when SIGINT would raise KeyboardInterrupt inside `site`) stays pending until
        # the watcher unblocks it, then stops the run as any other.
        signal.pthread_sigmask(signal.SIG_BLOCK, watch.STOP_SIGNALS)
        os.execv(sys.executable, [sys.executable, "-m", "myshop.watch"])


def print_welcome(
    console: Console,
    started: list[devstack.ServiceProcess],
    data_dir: Path,
    sink: Any,
    ops_token: str | None = None,
    served: list[sites.Site] | None = None,
) -> None:
    console.print()
    router = next((service for service in started if service.name == "router"), None)
    if router is not None:
        local = f"http://localhost:{router.settings.port}/graphql"
        console.print(f"[bold]MyShop is up.[/bold] Open [bold]{local}[/bold] (GraphiQL) for the whole API.")
        console.print(f"  {column('router')} POST {router.url}/graphql   health: {router.url}/health/ready")
        if ops_token is not None:
            console.print(
                f"  {column('ops')} curl -H 'Authorization: Bearer {ops_token}' {router.url}/metrics   "
                "(a token of this run; set MYSHOP_ROUTER_OPS__TOKEN to choose one)"
            )
        for site in served or []:
            console.print(f"  {column(site.name)} {site.url}   {site.hint}")
        console.print("Each subgraph also answers on its own:")
    else:
        console.print("[bold]MyShop is up.[/bold] Send GraphQL to each service:")
    for service in started:
        if service is not router and service.name != "sites":
            console.print(
                f"  {column(service.name)} POST {service.url}/graphql   health: {service.url}/health/ready"
            )
    if any(service.name == "users" for service in started):
        console.print("Demo accounts (password [bold]myshop-demo[/bold]; demo only):")
        console.print(
            "  admin@myshop.dev (ADMIN) · customer@myshop.dev (CUSTOMER) · partner@myshop.dev (PARTNER)"
        )
    if sink is not None:
        console.print(f"Mail: an SMTP sink on {sink.address} keeps every mail as a file in {sink.directory}")
    console.print(f"Logs: {data_dir / 'logs'}/<service>.log    Stop: Ctrl-C")
    sys.stdout.flush()
