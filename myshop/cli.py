"""The `myshop` command: run the system, migrate, seed, compose the supergraph, serve one service."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from myshop import devstack

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
    from router.config import ConfigError, RouterConfig
    from router.server import serve as serve_router

    try:
        settings = RouterConfig.load(config, host=host, port=port, workers=workers)
        supergraph.read_bytes()
    except (ConfigError, OSError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    serve_router(supergraph, settings)


@app.command()
def migrate(
    services: Services = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    downgrade: Annotated[
        bool, typer.Option("--downgrade", help="Downgrade to --revision (e.g. base).")
    ] = False,
) -> None:
    """Create each service's database if missing and apply its Alembic migrations."""
    from myshop import migrations
    from subgraphs import registry

    for name in _names(services):
        settings = registry.load(name).settings_class()
        if downgrade:
            migrations.downgrade(name, settings.effective_database_url, revision)
            _say(f"{name}: downgraded to {revision}")
            continue
        if asyncio.run(migrations.ensure_database(settings.postgres_url, settings.database_name)):
            _say(f"created database {settings.database_name}")
        migrations.upgrade(name, settings.effective_database_url, revision)
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
) -> None:
    """Run the whole system with demo data: infrastructure, migrations, every service. Ctrl-C stops it all."""
    from myshop import devstack
    from myshop.embedded import EmbeddedServerError, ensure_infrastructure
    from shared.settings import ServiceSettings
    from subgraphs import registry

    names = _names(services)
    common = ServiceSettings()
    data_dir = common.data_dir.expanduser().resolve()
    console.print(f"[bold]MyShop[/bold] — data in {data_dir}")
    try:
        infra = ensure_infrastructure(
            common.postgres_url, common.redis_url, data_dir, log=_say, allow_embedded=embedded
        )
    except EmbeddedServerError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    # Every settings object from here on (ours and the services') sees the servers actually in use.
    os.environ.update(devstack.service_env(infra.postgres_url, infra.redis_url))
    os.environ["MYSHOP_DATA_DIR"] = str(data_dir)
    # Each service finds its peers where this run starts them (unless told otherwise).
    for variable, url in devstack.peer_env(names).items():
        os.environ.setdefault(variable, url)

    started: list[devstack.ServiceProcess] = []
    stopping = False
    sink = devstack.start_mail_sink(names, data_dir, log=_say) if mail_sink else None

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        with console.status("migrating"):
            asyncio.run(devstack.migrate(names, log=_say))
        if demo_data:
            with console.status("loading demo data"):
                asyncio.run(devstack.seed(names, log=_say))
        for name in names:
            with console.status(f"starting {name}"):
                service = devstack.start_service(name, data_dir / "logs", dict(os.environ))
                started.append(service)
                seconds = devstack.wait_ready(service)
            _say(f"[green]✔[/green] {name:<9} {service.url}/graphql  (ready in {seconds:.1f} s)")
        supergraph = REPO_ROOT / "schema" / "supergraph.graphql"
        if supergraph.exists():
            with console.status("starting the router"):
                subgraph_urls = {service.name: f"{service.url}/graphql" for service in started}
                router = devstack.start_router(supergraph, subgraph_urls, data_dir / "logs", dict(os.environ))
                started.append(router)
                # With only some services running, the router is up but not "ready" (a subgraph is missing).
                every_subgraph = set(registry.SUBGRAPHS) <= set(names)
                seconds = devstack.wait_ready(router, path="/health/ready" if every_subgraph else "/health")
            _say(f"[green]✔[/green] {'router':<9} {router.url}/graphql  (ready in {seconds:.1f} s)")
        _print_welcome(started, data_dir, sink)
        while True:
            for service in started:
                if service.process.poll() is not None:
                    console.print(
                        f"[red]{service.name} exited ({service.process.returncode}); its log:[/red]"
                    )
                    console.print(devstack.tail(service.log_path))
                    raise typer.Exit(1)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        for service in started:
            if service.process.poll() is not None:
                console.print(devstack.tail(service.log_path))
        raise typer.Exit(1) from exc
    finally:
        with console.status("stopping"):
            devstack.stop_services(started)
            if sink is not None:
                sink.stop()
            infra.stop()
        console.print("stopped." if started else "")


def _print_welcome(services: list[devstack.ServiceProcess], data_dir: Path, sink: Any = None) -> None:
    console.print()
    router = next((service for service in services if service.name == "router"), None)
    if router is not None:
        local = f"http://localhost:{router.settings.port}/graphql"
        console.print(f"[bold]MyShop is up.[/bold] Open [bold]{local}[/bold] (GraphiQL) for the whole API.")
        console.print(f"  router    POST {router.url}/graphql   health: {router.url}/health/ready")
        console.print("Each subgraph also answers on its own:")
    else:
        console.print("[bold]MyShop is up.[/bold] Send GraphQL to each service:")
    for service in services:
        if service is not router:
            console.print(
                f"  {service.name:<9} POST {service.url}/graphql   health: {service.url}/health/ready"
            )
    if any(service.name == "users" for service in services):
        console.print("Demo accounts (password [bold]myshop-demo[/bold]; demo only):")
        console.print(
            "  admin@myshop.dev (ADMIN) · customer@myshop.dev (CUSTOMER) · partner@myshop.dev (PARTNER)"
        )
    if sink is not None:
        console.print(f"Mail: an SMTP sink on {sink.address} keeps every mail as a file in {sink.directory}")
    console.print(f"Logs: {data_dir / 'logs'}/<service>.log    Stop: Ctrl-C")
    sys.stdout.flush()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
