"""The processes `myshop up` starts, without the CLI's imports: `python -m myshop.process serve <name>` and
`python -m myshop.process router --supergraph FILE [--host H] [--port P] [--config FILE]`, the same as
`myshop serve` and `myshop router`; and `python -m myshop.process serve <name>... --logs DIR`, several
services in one process (myshop.host); and `python -m myshop.process sites SPEC`, the web sites
(myshop.sites: the admin console).

Each lives as long as the stack, holding whatever it imported: through `myshop.cli` that was Typer, Click
and Rich, and httpx's command-line client (httpx imports it whenever Rich, Click and Pygments are installed,
which Typer brings). Measured per subgraph process at idle: about 8 MiB RSS less this way (products 124 ->
116 MiB), nine processes of the stack (bench/stack_memory.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def lean_httpx() -> None:
    """httpx without its command-line client (`httpx._main`: Rich, Click, Pygments, ~4 MiB per process):
    `httpx/__init__.py` imports it in a `try` and defines a stub `httpx.main` when the import fails, which
    a `None` in sys.modules makes it do. Only the `httpx` console command needs it; our processes never
    call it."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def serve(name: str) -> None:
    from shared.app import serve as serve_app
    from subgraphs import registry

    serve_app(registry.load(name))


def router(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="myshop.process router")
    parser.add_argument("--supergraph", type=Path, required=True)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)
    run_router(args.supergraph, host=args.host, port=args.port, config=args.config, workers=args.workers)


def run_router(
    supergraph: Path,
    *,
    host: str | None,
    port: int | None,
    config: Path | None,
    workers: int | None,
    report: Callable[[str], None] = lambda problem: print(problem, file=sys.stderr),
) -> None:
    """Serve the router over `supergraph`; a configuration or file it cannot read: `report`, exit code 2."""
    from router.config import ConfigError, RouterConfig
    from router.server import serve as serve_router

    try:
        settings = RouterConfig.load(config, host=host, port=port, workers=workers)
        supergraph.read_bytes()
    except (ConfigError, OSError, ValueError) as exc:
        report(str(exc))
        raise SystemExit(2) from exc
    serve_router(supergraph, settings)


def main(argv: list[str]) -> None:
    lean_httpx()
    if len(argv) == 2 and argv[0] == "serve":
        serve(argv[1])
    elif argv[:1] == ["serve"] and "--logs" in argv:
        from myshop.host import host

        parser = argparse.ArgumentParser(prog="myshop.process serve")
        parser.add_argument("names", nargs="+")
        parser.add_argument("--logs", type=Path, required=True)
        args = parser.parse_args(argv[1:])
        raise SystemExit(host(args.names, args.logs))
    elif argv[:1] == ["router"]:
        router(argv[1:])
    elif len(argv) == 2 and argv[0] == "sites":
        from myshop import sites

        sites.serve(sites.decode(argv[1]))
    else:
        raise SystemExit(
            "usage: python -m myshop.process serve <name> | serve <name>... --logs DIR"
            " | router --supergraph FILE [...] | sites SPEC"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
