"""What `myshop sites` serves in production (the Dockerfile's image, docker-compose's `sites`, the
Kubernetes `console` Deployment): the sites asked for, each from its build, on the ports and addresses of the
environment (`MYSHOP_<NAME>_PORT` / `_HOST`, as myshop/sites.py reads them for `myshop up`), their
`/config.json` naming the router's public URL. Unlike `myshop up`, which skips a site not built, a site
asked for and not built is an error: a container that serves nothing must fail its start, not its first
visitor."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from myshop.sites import KNOWN_SITES, Site, site_of


class SitesUnavailable(Exception):
    """Nothing to serve as asked: no router URL, a bad one, no site, or a site not built."""


def router_url_of(value: str | None) -> str:
    """The router's public /graphql URL, as a browser reaches it (it may well not be this machine)."""
    if not value or not value.strip():
        raise SitesUnavailable(
            "no router URL: set MYSHOP_SITES_ROUTER_URL (or --router-url) to the router's /graphql as the "
            "browsers reach it, e.g. https://api.shop.example.com/graphql"
        )
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SitesUnavailable(f"the router URL must be an http(s) URL with a host, not {value!r}")
    return value.strip()


def chosen_sites(
    env: Mapping[str, str],
    router_url: str | None,
    wanted: Mapping[str, bool],
    directories: Mapping[str, Path | None],
) -> list[Site]:
    """The sites of `wanted` (name -> serve it), each from `directories[name]` or its known build."""
    url = router_url_of(router_url)
    chosen: list[Site] = []
    for known in KNOWN_SITES:
        if not wanted.get(known.name):
            continue
        directory = directories.get(known.name) or known.directory
        if not (directory / "index.html").is_file():
            raise SitesUnavailable(
                f"{known.name}: no build in {directory} (no index.html; `{known.build}` builds it)"
            )
        try:
            chosen.append(site_of(known, directory, env, url))
        except ValueError as exc:
            raise SitesUnavailable(str(exc)) from None
    if not chosen:
        raise SitesUnavailable("no site to serve (--console, --storefront)")
    if len({site.port for site in chosen}) < len(chosen):
        raise SitesUnavailable(f"two sites on one port: {', '.join(f'{s.name}:{s.port}' for s in chosen)}")
    return chosen
