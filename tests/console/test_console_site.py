"""The static-site server of `myshop up` (myshop/sites.py) over the built admin console: the page and its
hashed assets, client-side routes answered with the page, a missing asset 404, `/config.json` telling the
page where the router is, one process serving several sites by port, and `myshop up`'s plan of the sites."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import uvicorn

from myshop import sites
from shared.testing import ServerThread

BUILT = sites.KNOWN_SITES[0].directory
pytestmark = pytest.mark.skipif(
    not (BUILT / "index.html").is_file(), reason="the console is not built: `make console` (make test does)"
)


@pytest.fixture(scope="module")
def site() -> Iterator[ServerThread]:
    server = ServerThread(sites.site_app(BUILT, {"routerUrl": "http://127.0.0.1:4999/graphql"})).start()
    yield server
    server.stop()


def asset_names() -> list[str]:
    return sorted(path.name for path in (BUILT / "assets").iterdir())


def test_the_page_is_served_uncached_with_its_security_headers(site: ServerThread) -> None:
    response = httpx.get(f"{site.url}/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    # The page may reach the router its config names (HTTP and WebSocket), nothing else.
    assert "connect-src 'self' http://127.0.0.1:4999 ws://127.0.0.1:4999;" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    # Every script and stylesheet is one of the build's own hashed assets: nothing from a CDN.
    assert 'id="root"' in response.text
    for name in asset_names():
        assert f"/assets/{name}" in response.text
    assert "http" not in response.text.replace("http-equiv", "")


def test_a_hashed_asset_is_cached_for_a_year(site: ServerThread) -> None:
    script = next(name for name in asset_names() if name.endswith(".js"))

    response = httpx.get(f"{site.url}/assets/{script}")

    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.content == (BUILT / "assets" / script).read_bytes()


@pytest.mark.parametrize("route", ["/orders", "/dead-letters", "/stock/some/deeper/route"])
def test_a_client_side_route_gets_the_page(site: ServerThread, route: str) -> None:
    response = httpx.get(f"{site.url}{route}")

    assert response.status_code == 200
    assert response.text == (BUILT / "index.html").read_text()
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/assets/missing-0000.js", "/favicon.ico", "/orders/report.csv"])
def test_a_missing_file_is_404(site: ServerThread, path: str) -> None:
    assert httpx.get(f"{site.url}{path}").status_code == 404


def test_config_tells_the_page_where_the_router_is(site: ServerThread) -> None:
    response = httpx.get(f"{site.url}/config.json")

    assert response.json() == {"routerUrl": "http://127.0.0.1:4999/graphql"}
    assert response.headers["cache-control"] == "no-cache"


def test_one_server_serves_each_site_on_its_own_port(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>second site</title>")
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    served = [
        sites.Site("console", str(BUILT), "127.0.0.1", ports[0], {"routerUrl": "a"}),
        sites.Site("storefront", str(tmp_path), "127.0.0.1", ports[1], {"routerUrl": "b"}),
    ]
    server = uvicorn.Server(
        uvicorn.Config(sites.sites_app(sites.decode(sites.encode(served))), log_config=None)
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sites.bind(s) for s in served]}, daemon=True
    )
    thread.start()
    try:
        # The sockets listen before the server runs: a request waits for it rather than failing.
        answers = [httpx.get(f"http://127.0.0.1:{port}/checkout", timeout=10) for port in ports]
        configs = [httpx.get(f"http://127.0.0.1:{port}/config.json").json() for port in ports]
    finally:
        server.should_exit = True
        thread.join(5)
    assert 'id="root"' in answers[0].text
    assert "second site" in answers[1].text
    assert configs == [{"routerUrl": "a"}, {"routerUrl": "b"}]


def test_up_plans_the_built_sites_on_their_ports_and_allows_their_origins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Both sites built (the storefront into a folder of this test's: whether this checkout built it is not the
    # point), then the storefront not built.
    (tmp_path / "index.html").write_text("<!doctype html>")
    known = {site.name: site for site in sites.KNOWN_SITES}
    storefront_here = replace(known["storefront"], directory=tmp_path)
    monkeypatch.setattr(sites, "KNOWN_SITES", (known["console"], storefront_here))
    planned, missing = sites.planned_sites({"MYSHOP_CONSOLE_PORT": "4910"}, "http://localhost:4000/graphql")

    [console, storefront] = planned
    assert (console.name, console.host, console.port) == ("console", "127.0.0.1", 4910)
    assert console.config == {"routerUrl": "http://localhost:4000/graphql"}
    assert console.origins == ["http://127.0.0.1:4910", "http://localhost:4910"]
    assert console.url == "http://localhost:4910/"
    # The storefront on its default port, its config in its own shape (examples/storefront/src/config.ts).
    assert (storefront.name, storefront.port) == ("storefront", 4011)
    assert storefront.config == {"graphqlUrl": "http://localhost:4000/graphql", "websocketUrl": None}
    assert missing == []

    (tmp_path / "index.html").unlink()
    planned, missing = sites.planned_sites({}, "http://localhost:4000/graphql")
    assert [site.name for site in planned] == ["console"]
    assert missing == ["storefront: not built (run `make storefront`)"]
