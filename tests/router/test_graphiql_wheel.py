"""Issue 21's acceptance for GraphiQL in the package: the project's wheel, installed in a fresh venv with no
node_modules anywhere the router looks, serves GraphiQL from its own copy of the pinned assets, and a query
runs in it in headless Chromium (the driver of test_graphiql_browser.py).

To stay fast the fresh venv gets the project from the wheel (`--no-deps`) and its dependencies from this
test's own environment, through a `.pth` line read after the venv's site-packages: the router's code and
assets come from the wheel, which the first test checks. The wheel is built once for the module, without the
Cython step (MYSHOP_PURE_PYTHON=1: the hot modules are another test's business and would add ~30 s).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from test_graphiql_browser import graphiql_report
from test_graphiql_browser import pytestmark as needs_chromium_and_playwright
from test_server_command import free_port

REPO = Path(__file__).resolve().parents[2]
SUPERGRAPH = REPO / "schema" / "supergraph.graphql"

pytestmark = [needs_chromium_and_playwright, pytest.mark.slow]

# What the installed router reports about where it reads from (run by the fresh venv's Python).
WHERE = """
import json, sys
from pathlib import Path
import router
from router.config import RouterConfig
from router.http.graphiql import asset_files
node_modules = RouterConfig().node_modules
print(json.dumps({
    "router": router.__file__,
    "node_modules": str(node_modules),
    "assets": {name: str(path) for name, path in asset_files(node_modules).items()},
    "sys_path": sys.path,
}))
"""


@dataclass
class InstalledWheel:
    venv: Path
    workdir: Path
    env: dict[str, str]


def run(command: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=180, **kwargs
    )
    assert completed.returncode == 0, f"{command}:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed


def checkout_copy(target: Path) -> None:
    """The checkout's files (tracked and new, not ignored) with its node_modules linked: a build in place
    would reuse whatever an earlier build left in build/ and prove nothing."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO).stdout
    for relative in filter(None, listed.split("\0")):
        if (REPO / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / relative, target / relative)
    (target / "node_modules").symlink_to(REPO / "node_modules")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    root = tmp_path_factory.mktemp("graphiql-wheel")
    source, dist, venv, workdir = root / "source", root / "dist", root / "venv", root / "cwd"
    workdir.mkdir()
    checkout_copy(source)
    run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, source],
        env={**os.environ, "MYSHOP_PURE_PYTHON": "1"},
    )
    (wheel,) = dist.glob("myshop-*.whl")
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel])
    site_packages = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    # After the wheel: the dependencies, never the project, come from this environment.
    (site_packages / "zz_myshop_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "MYSHOP_ROUTER_NODE_MODULES", "VIRTUAL_ENV")
    }
    return InstalledWheel(venv, workdir, env)


def test_the_installed_router_reads_its_code_and_graphiql_from_the_wheel(installed: InstalledWheel) -> None:
    where = json.loads(
        run([installed.venv / "bin" / "python", "-c", WHERE], cwd=installed.workdir, env=installed.env).stdout
    )
    assert Path(where["router"]).is_relative_to(installed.venv)
    for name, path in where["assets"].items():
        assert Path(path).is_relative_to(installed.venv / "lib"), name
    assert (REPO / "node_modules").exists()  # the checkout has one: the wheel's router must not see it
    assert not Path(where["node_modules"]).exists()
    reachable = [Path(entry) for entry in where["sys_path"] if entry] + [installed.workdir]
    assert not [entry for entry in reachable if (entry / "node_modules").exists()]
    assert not [parent for parent in installed.venv.parents if (parent / "node_modules").exists()]


@pytest.fixture(scope="module")
def router_url(installed: InstalledWheel) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            installed.venv / "bin" / "myshop",
            "router",
            "--supergraph",
            SUPERGRAPH,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=installed.workdir,
        env=installed.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output = process.communicate(timeout=15)[0].decode()
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert "GraphiQL is off" not in output, output


def test_the_wheel_serves_the_pinned_graphiql_assets(router_url: str) -> None:
    page = httpx.get(f"{router_url}/graphql", headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200
    assert "/graphiql/graphiql.js" in page.text
    served = httpx.get(f"{router_url}/graphiql/graphiql.js", timeout=10)
    assert served.status_code == 200
    assert served.content == (REPO / "node_modules" / "graphiql" / "graphiql.min.js").read_bytes()


async def test_the_wheel_runs_a_query_in_graphiql_in_headless_chromium(router_url: str) -> None:
    # The browser driver runs from the checkout; the router from the wheel's venv.
    report = await graphiql_report(
        f"{router_url}/graphql", '{ __type(name: "Product") { name } }', '"Product"'
    )
    assert '"name": "Product"' in report["result"]
    assert any("/graphiql/graphiql.js" in url for url in report["requests"])
    assert all(url.startswith(router_url) or url.startswith("data:") for url in report["requests"])
