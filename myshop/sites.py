"""The web sites `myshop up` serves beside the API: built static assets (the admin console,
`myshop/console/`, and the reference storefront, `examples/storefront/`), each on a port of its own, all
from one small process (`python -m myshop.process sites SPEC`).

A site is a directory holding `index.html` and its hashed assets (`assets/`, as vite builds them): a path that
names no file and has no extension is a client-side route and gets `index.html` (SPA fallback); a missing file
with an extension is a 404. `index.html` and the other unhashed files are served `no-cache` (revalidated every
time, so a new build shows at once), hashed assets for a year, immutable. `/config.json` is what the page
needs to know of this run (where the router answers), so the same build works behind any host or port.

Adding a site is one more entry in `KNOWN_SITES`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from types import FrameType
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent
# A year: the name of a hashed asset changes with its content.
IMMUTABLE = "public, max-age=31536000, immutable"
# The page's own files only, and (connect-src) the router its `/config.json` names, over HTTP and WebSocket:
# a page that is made to post a password elsewhere (an injected script, a crafted link) is refused by the
# browser. Images may come from wherever the catalog's media live.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' {connect}; img-src 'self' data: http: https:; "
    "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def content_security_policy(config: dict[str, Any]) -> str:
    """The policy of a site whose `/config.json` is `config`: it may connect to the origins its URLs name (the
    router's, and the same host over ws:// or wss://)."""
    origins: list[str] = []
    for value in config.values():
        if not isinstance(value, str) or "://" not in value:
            continue
        scheme, rest = value.split("://", 1)
        host = rest.split("/", 1)[0]
        twin = {"http": "ws", "https": "wss", "ws": "http", "wss": "https"}.get(scheme)
        for each in (scheme, twin):
            if each is not None and f"{each}://{host}" not in origins:
                origins.append(f"{each}://{host}")
    return CONTENT_SECURITY_POLICY.format(connect=" ".join(origins)).replace("'self' ;", "'self';")


@dataclass(frozen=True)
class KnownSite:
    """A site myshop knows how to serve: where its build lands, its default port, how to build it, its page's
    `/config.json` (from the router's URL) and what `myshop up` says beside its URL."""

    name: str
    directory: Path
    default_port: int
    build: str
    config: Callable[[str], dict[str, Any]]
    hint: str


KNOWN_SITES = (
    KnownSite(
        "console",
        PACKAGE_ROOT / "console" / "static",
        4010,
        "make console",
        lambda router_url: {"routerUrl": router_url},
        "the admin console: sign in with an ADMIN account",
    ),
    KnownSite(
        "storefront",
        REPO_ROOT / "examples" / "storefront" / "dist",
        4011,
        "make storefront",
        # examples/storefront/src/config.ts: the WebSocket is the same URL, ws:// (null).
        lambda router_url: {"graphqlUrl": router_url, "websocketUrl": None},
        "the reference storefront (examples/storefront)",
    ),
)


@dataclass
class Site:
    """One site of a run: its files, where it listens and the `/config.json` its page reads."""

    name: str
    directory: str
    host: str
    port: int
    config: dict[str, Any] = field(default_factory=dict)
    hint: str = ""

    @property
    def origins(self) -> list[str]:
        """The browser origins of its page: as addressed by name and by loopback address."""
        hosts = {self.host}
        if self.host in ("127.0.0.1", "localhost", "0.0.0.0", "::"):
            hosts = {"127.0.0.1", "localhost"}
        return [f"http://{host}:{self.port}" for host in sorted(hosts)]

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/"


def planned_sites(env: dict[str, str], router_url: str) -> tuple[list[Site], list[str]]:
    """The sites this run serves (those built: their directory holds index.html), each on
    `MYSHOP_<NAME>_PORT` (its default otherwise) and `MYSHOP_<NAME>_HOST` (127.0.0.1), and a line for each
    one not built. `router_url`: the router's /graphql as a browser on this machine reaches it."""
    sites, missing = [], []
    for known in KNOWN_SITES:
        if not (known.directory / "index.html").is_file():
            missing.append(f"{known.name}: not built (run `{known.build}`)")
            continue
        sites.append(site_of(known, known.directory, env, router_url))
    return sites, missing


def site_of(known: KnownSite, directory: Path, env: Mapping[str, str], router_url: str) -> Site:
    """`known` served from `directory` on `MYSHOP_<NAME>_PORT` (its default otherwise) and
    `MYSHOP_<NAME>_HOST` (127.0.0.1), its `/config.json` naming `router_url`. ValueError for a port that is
    not a number."""
    prefix = f"MYSHOP_{known.name.upper()}_"
    raw = env.get(f"{prefix}PORT")
    try:
        port = known.default_port if raw is None else int(raw)
    except ValueError:
        raise ValueError(f"{prefix}PORT must be a port number, not {raw!r}") from None
    host = env.get(f"{prefix}HOST", "127.0.0.1")
    return Site(known.name, str(directory), host, port, known.config(router_url), known.hint)


def encode(sites: list[Site]) -> str:
    return json.dumps([asdict(site) for site in sites])


def decode(spec: str) -> list[Site]:
    return [Site(**entry) for entry in json.loads(spec)]


def site_app(directory: Path, config: dict[str, Any]) -> Any:
    """The ASGI app of one site."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
    from starlette.types import Scope

    class SiteFiles(StaticFiles):
        async def get_response(self, path: str, scope: Scope) -> Response:
            try:
                response = await super().get_response(path, scope)
            except HTTPException as exc:
                # A client-side route (no extension): the page, which routes it. A missing file: 404.
                if exc.status_code != 404 or "." in PurePosixPath(path).name:
                    raise
                path = "index.html"
                response = await super().get_response(path, scope)
            hashed = PurePosixPath(path).parts[:1] == ("assets",)
            response.headers["cache-control"] = IMMUTABLE if hashed else "no-cache"
            response.headers["x-content-type-options"] = "nosniff"
            if path.endswith(".html"):
                response.headers["content-security-policy"] = content_security_policy(config)
            return response

    async def config_json(_request: Request) -> Response:
        return JSONResponse(config, headers={"cache-control": "no-cache"})

    async def health(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/config.json", config_json),
            Route("/health", health),
            Mount("/", app=SiteFiles(directory=directory, check_dir=True)),
        ]
    )


def sites_app(sites: list[Site]) -> Any:
    """One ASGI app for every site, each chosen by the port the request came in on."""
    apps = {site.port: site_app(Path(site.directory), site.config) for site in sites}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        server = scope.get("server") or ("", 0)
        await apps[server[1]](scope, receive, send)

    return app


def bind(site: Site) -> socket.socket:
    family = socket.AF_INET6 if ":" in site.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((site.host, site.port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(sites: list[Site]) -> None:
    """Serve every site until SIGINT or SIGTERM; after a SIGTERM (a process manager stopping it on purpose:
    docker stop, a pod's termination, `myshop up` ending) it exits 0 once drained, where uvicorn would
    re-raise the signal (143). OSError when a port is taken."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            captured: list[Any] | None = getattr(self, "_captured_signals", None)
            if sig == signal.SIGTERM and captured and captured[-1] == sig:
                captured.pop()

    sockets = [bind(site) for site in sites]
    config = uvicorn.Config(
        sites_app(sites),
        log_level=os.environ.get("MYSHOP_LOG_LEVEL", "info").lower(),
        access_log=False,
        server_header=False,
    )
    Server(config).run(sockets=sockets)
