"""The `myshop` command: run the system, migrate, seed, compose the supergraph, serve one service."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# The subgraphs' registry, settings, migrations and devstack (SQLAlchemy, Alembic, ...) are imported by the
# commands that use them: `myshop router` stays without them (about 28 MB less resident memory).

app = typer.Typer(help="MyShop: a federated GraphQL e-commerce backend.", no_args_is_help=True)
# soft_wrap: URLs stay whole (and clickable) when the output is not a wide terminal.
console = Console(highlight=False, soft_wrap=True)

REPO_ROOT = Path(__file__).resolve().parent.parent

Services = Annotated[list[str] | None, typer.Argument(help="Services (default: all).", show_default=False)]


def _names(services: list[str] | None) -> list[str]:
    from subgraphs import registry

    names = services or list(registry.SUBGRAPHS)
    unknown = [name for name in names if name not in registry.SUBGRAPHS]
    if unknown:
        raise typer.BadParameter(
            f"unknown service(s) {', '.join(unknown)}; known: {', '.join(registry.SUBGRAPHS)}"
        )
    return names


def _say(line: str) -> None:
    console.print(f"  {line}")


@app.command()
def serve(service: Annotated[str, typer.Argument(help="The service to run.")]) -> None:
    """Run one service (uvicorn) with settings from the environment."""
    from shared.app import serve as serve_app
    from subgraphs import registry

    serve_app(registry.load(_names([service])[0]))


@app.command("router")
def router_command(
    supergraph: Annotated[
        Path, typer.Option(help="The supergraph SDL (Federation 2, as composed).", show_default=False)
    ],
    host: Annotated[str | None, typer.Option(help="Listen address (env MYSHOP_ROUTER_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (env MYSHOP_ROUTER_PORT).")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Router YAML (limits, subgraph URLs, ...).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes serving the port, one per core (env MYSHOP_ROUTER_WORKERS).")
    ] = None,
) -> None:
    """Run the federation router over a supergraph (GraphQL at /graphql, GraphiQL for browsers)."""
    from myshop.process import run_router

    run_router(
        supergraph,
        host=host,
        port=port,
        config=config,
        workers=workers,
        report=lambda problem: console.print(f"[red]{problem}[/red]"),
    )


@app.command("sites")
def sites_command(
    router_url: Annotated[
        str | None,
        typer.Option(
            "--router-url",
            envvar="MYSHOP_SITES_ROUTER_URL",
            help="The router's /graphql as the browsers reach it, for each page's /config.json.",
            show_default=False,
        ),
    ] = None,
    with_console: Annotated[
        bool, typer.Option("--console/--no-console", help="Serve the admin console (the wheel's build).")
    ] = True,
    with_storefront: Annotated[
        bool,
        typer.Option(
            "--storefront/--no-storefront",
            envvar="MYSHOP_SITES_STOREFRONT",
            help="Serve the reference storefront too (its build: --storefront-dir).",
        ),
    ] = False,
    storefront_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="MYSHOP_STOREFRONT_DIR",
            help="The storefront's build (default: examples/storefront/dist of a checkout).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the built web sites for production: the admin console (and the storefront), each on its port
    (MYSHOP_CONSOLE_PORT/_HOST, MYSHOP_STOREFRONT_PORT/_HOST), with /config.json and /health. SIGTERM stops
    it."""
    from myshop.site_command import SitesUnavailable, chosen_sites
    from myshop.sites import serve as serve_sites

    wanted = {"console": with_console, "storefront": with_storefront}
    try:
        chosen = chosen_sites(os.environ, router_url, wanted, {"storefront": storefront_dir})
    except SitesUnavailable as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    for site in chosen:
        _say(f"{site.name}: http://{site.host}:{site.port}/ ({site.directory})")
    try:
        serve_sites(chosen)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        console.print(f"[red]cannot listen: {exc}[/red]")
        raise typer.Exit(1) from None


@app.command()
def migrate(
    services: Services = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    downgrade: Annotated[
        bool, typer.Option("--downgrade", help="Downgrade to --revision (e.g. base).")
    ] = False,
) -> None:
    """Create each service's database if missing and apply its Alembic migrations."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from myshop import migrations
    from subgraphs import registry

    for name in _names(services):
        settings = registry.load(name).settings_class()
        try:
            if downgrade:
                migrations.downgrade(name, settings.effective_database_url, revision)
                _say(f"{name}: downgraded to {revision}")
                continue
            if asyncio.run(migrations.ensure_database(settings.postgres_url, settings.database_name)):
                _say(f"created database {settings.database_name}")
            migrations.upgrade(name, settings.effective_database_url, revision)
        except (OSError, SQLAlchemyError) as exc:
            # A migration Job's log (deploy/README.md) is read for this line: no traceback to dig through.
            server = make_url(settings.effective_database_url)
            reason = str(exc).splitlines()[0] if str(exc) else ""
            console.print(
                f"[red]{name}: cannot migrate {settings.database_name} on {server.host}:{server.port}: "
                f"{type(exc).__name__}: {reason}[/red]"
            )
            raise typer.Exit(1) from None
        _say(f"{name}: at {revision}")


@app.command()
def makemigration(
    service: Annotated[str, typer.Argument(help="The service whose models changed.")],
    message: Annotated[str, typer.Option("-m", "--message", help="What the migration does.")],
) -> None:
    """Autogenerate a migration from the difference between a service's models and its database."""
    from myshop import migrations
    from subgraphs import registry

    settings = registry.load(_names([service])[0]).settings_class()
    migrations.revision(service, settings.effective_database_url, message)


@app.command()
def seed(services: Services = None) -> None:
    """Load the demo data (idempotent)."""
    from myshop import devstack

    asyncio.run(devstack.seed(_names(services), log=_say))


@app.command()
def compose(
    check: Annotated[bool, typer.Option("--check", help="Fail if the committed files are stale.")] = False,
) -> None:
    """Print each subgraph's SDL into schema/ and compose schema/supergraph.graphql (@apollo/composition)."""
    from myshop.schema_files import compose_schema_files

    stale = compose_schema_files(REPO_ROOT, write=not check)
    if check and stale:
        console.print(f"[red]stale:[/red] {', '.join(stale)}; run `myshop compose`")
        raise typer.Exit(1)
    for path in stale:
        _say(f"wrote {path}")
    if not stale:
        _say("schema/ is up to date")


@app.command()
def up(
    services: Services = None,
    demo_data: Annotated[bool, typer.Option("--seed/--no-seed", help="Load the demo data.")] = True,
    embedded: Annotated[
        bool, typer.Option("--embedded/--no-embedded", help="Start embedded PostgreSQL/Redis if unreachable.")
    ] = True,
    mail_sink: Annotated[
        bool,
        typer.Option("--mail-sink/--no-mail-sink", help="Catch notifications' mails in a local SMTP sink."),
    ] = True,
    process_per_service: Annotated[
        bool,
        typer.Option(
            "--process-per-service",
            help="Each service in a process of its own, as in production (default: one process hosts them).",
        ),
    ] = False,
) -> None:
    """Run the whole system with demo data: infrastructure, migrations, every service. Ctrl-C stops it all."""
    from myshop.up import StartFailed, Supervisor

    supervisor = Supervisor(_names(services), console, REPO_ROOT, process_per_service=process_per_service)
    try:
        supervisor.run(demo_data=demo_data, embedded=embedded, mail_sink=mail_sink)
    except StartFailed as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


@app.command("up-plan", hidden=True)
def up_plan() -> None:
    """(`myshop up`'s own) print the settings it starts from, as a plan line (myshop/devstack.py)."""
    import json

    from myshop import devstack

    print(devstack.PLAN_MARK + json.dumps(devstack.common_plan()), flush=True)


@app.command("up-prepare", hidden=True)
def up_prepare(
    services: Services = None,
    demo_data: Annotated[bool, typer.Option("--seed/--no-seed", help="Load the demo data.")] = True,
) -> None:
    """(`myshop up`'s own) check the connection budget, migrate, seed; print where everything listens."""
    import json

    from myshop import devstack
    from shared.connection_budget import BudgetExceeded

    try:
        plan = devstack.prepare(
            _names(services), demo_data=demo_data, log=lambda line: print(line, flush=True)
        )
    except BudgetExceeded as exc:
        print(devstack.REFUSAL_MARK + json.dumps(str(exc)), flush=True)
        raise typer.Exit(3) from exc
    print(devstack.PLAN_MARK + json.dumps(plan), flush=True)


@app.command()
def replicas(
    count: Annotated[int, typer.Option("--replicas", min=1, max=4, help="Replicas of each process.")] = 2,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where its servers, data and logs go (default: a new temp dir)."),
    ] = None,
) -> None:
    """Every subgraph and the router `--replicas` times behind HAProxy, over a PostgreSQL and a Redis of their
    own, on loopback; Ctrl-C stops it all."""
    from myshop.replicas.run import hold_replicas

    raise typer.Exit(hold_replicas(directory, count, console))


@app.command()
def chaos(
    duration: Annotated[float, typer.Option(min=5, help="Seconds of load and failures.")] = 120.0,
    clients: Annotated[int, typer.Option(min=1, help="Clients ordering and reading.")] = 20,
    partners: Annotated[int, typer.Option(min=0, help="Partners following orderUpdates.")] = 3,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where its servers, data and logs go (default: a new temp dir)."),
    ] = None,
) -> None:
    """The chaos run over `myshop replicas`: load, a replica SIGKILLed every few seconds, Redis and PostgreSQL
    restarted once; then the invariants, printed. Exits 1 when one fails."""
    from myshop.replicas.chaos import Plan
    from myshop.replicas.run import chaos_run

    raise typer.Exit(
        chaos_run(directory, Plan(duration=duration, clients=clients, partners=partners), console)
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
