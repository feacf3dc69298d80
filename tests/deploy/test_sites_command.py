"""`myshop sites`, the web sites' process of the production artifacts (Dockerfile, docker-compose's `sites`,
the Kubernetes `console` Deployment): one real process on loopback ports serving the built console and a
storefront build, each page's /config.json naming the router's public URL from the environment, /health for
the probes; SIGTERM ends it with 0. A site asked for and not built, or no router URL, refuses to start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from myshop import sites
from myshop.cli import app
from myshop.servers import free_port

REPO = Path(__file__).resolve().parents[2]
CONSOLE_BUILD = sites.KNOWN_SITES[0].directory
ROUTER_URL = "https://api.shop.example.com/graphql"
pytestmark = pytest.mark.skipif(
    not (CONSOLE_BUILD / "index.html").is_file(),
    reason="the console is not built: `make console` (make test does)",
)


@dataclass
class SitesProcess:
    process: subprocess.Popen[bytes]
    console: str
    storefront: str
    storefront_page: str


def site_env(console_port: int, storefront_port: int, storefront_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MYSHOP_")}
    return {
        **env,
        "MYSHOP_SITES_ROUTER_URL": ROUTER_URL,
        "MYSHOP_CONSOLE_PORT": str(console_port),
        "MYSHOP_CONSOLE_HOST": "127.0.0.1",
        "MYSHOP_STOREFRONT_PORT": str(storefront_port),
        "MYSHOP_STOREFRONT_HOST": "127.0.0.1",
        "MYSHOP_STOREFRONT_DIR": str(storefront_dir),
        "MYSHOP_SITES_STOREFRONT": "true",
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SitesProcess]:
    """`myshop sites` as the compose file runs it; the storefront is a build of one page (its own build needs
    its npm packages: tests/storefront covers it)."""
    storefront_dir = tmp_path_factory.mktemp("storefront-dist")
    page = '<!doctype html><html><body><div id="app">storefront</div></body></html>\n'
    (storefront_dir / "index.html").write_text(page)
    console_port, storefront_port = free_port(), free_port()
    myshop = Path(sys.executable).with_name("myshop")
    command = [str(myshop)] if myshop.exists() else [sys.executable, "-m", "myshop.cli"]
    process = subprocess.Popen(
        [*command, "sites"],
        cwd=REPO,
        env=site_env(console_port, storefront_port, storefront_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    running = SitesProcess(
        process, f"http://127.0.0.1:{console_port}", f"http://127.0.0.1:{storefront_port}", page
    )
    try:
        deadline = time.monotonic() + 30
        while process.poll() is None:
            try:
                if all(
                    httpx.get(f"{url}/health").status_code == 200
                    for url in (running.console, running.storefront)
                ):
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_it_serves_the_built_console_page(served: SitesProcess) -> None:
    response = httpx.get(f"{served.console}/")

    assert response.status_code == 200
    assert response.text == (CONSOLE_BUILD / "index.html").read_text()
    # The page may call the router it is told of, and nothing else.
    assert (
        "connect-src 'self' https://api.shop.example.com wss://api.shop.example.com;"
        in (response.headers["content-security-policy"])
    )
    # A client-side route gets the page too.
    assert httpx.get(f"{served.console}/orders").text == response.text


def test_the_consoles_config_names_the_routers_public_url(served: SitesProcess) -> None:
    response = httpx.get(f"{served.console}/config.json")

    assert response.json() == {"routerUrl": ROUTER_URL}
    assert response.headers["cache-control"] == "no-cache"


def test_the_storefront_build_asked_for_is_served_on_its_own_port(served: SitesProcess) -> None:
    assert httpx.get(f"{served.storefront}/").text == served.storefront_page
    assert httpx.get(f"{served.storefront}/config.json").json() == {
        "graphqlUrl": ROUTER_URL,
        "websocketUrl": None,
    }


def test_health_answers_on_every_site(served: SitesProcess) -> None:
    for url in (served.console, served.storefront):
        response = httpx.get(f"{url}/health")
        assert (response.status_code, response.text) == (200, "ok")


def test_sigterm_stops_it_cleanly(served: SitesProcess) -> None:
    served.process.send_signal(signal.SIGTERM)
    try:
        output = served.process.communicate(timeout=15)[0].decode()
    except subprocess.TimeoutExpired:
        served.process.kill()
        raise

    assert served.process.returncode == 0, output
    assert "Traceback" not in output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{served.console}/health")


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ([], {}, "no router URL"),
        (["--router-url", "api.example.com/graphql"], {}, "http(s) URL"),
        (["--storefront"], {"MYSHOP_SITES_ROUTER_URL": ROUTER_URL}, "storefront: no build in"),
        (["--no-console"], {"MYSHOP_SITES_ROUTER_URL": ROUTER_URL}, "no site to serve"),
    ],
    ids=["no router url", "not a url", "storefront not built", "nothing asked for"],
)
def test_it_refuses_to_start_without_what_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], says: str
) -> None:
    for key in [key for key in os.environ if key.startswith("MYSHOP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("MYSHOP_STOREFRONT_DIR", str(tmp_path / "missing"))

    result = CliRunner().invoke(app, ["sites", *args], env=env)

    assert result.exit_code == 2
    assert says in result.output
