"""The Dockerfile and docker-compose.yml read as text (Docker is not needed, nor run): the image builds the
admin console and the storefront the way the Makefile does, with a Node that meets the packages' engines,
puts them where `myshop sites` serves them from, and copies nothing the build context leaves out; compose runs
`myshop sites` on the sites' ports and the router lets their origins in."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import PurePosixPath

import yaml
from manifests import REPO

from myshop.sites import KNOWN_SITES

DEFAULT_PORTS = {site.name: site.default_port for site in KNOWN_SITES}


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [argument for word, argument in self.instructions if word == keyword]


def stages() -> list[Stage]:
    """The Dockerfile's stages, each instruction with its continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    found: list[Stage] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, argument = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            base, _, name = argument.partition(" AS ")
            found.append(Stage(base.strip(), name.strip()))
        else:
            found[-1].instructions.append((keyword.upper(), argument.strip()))
    return found


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_the_web_stage_runs_a_pinned_node_the_packages_accept() -> None:
    web = next(stage for stage in stages() if stage.name == "web")
    image, _, tag = web.base.partition(":")

    assert image == "node"
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[a-z]+)*", tag), f"not pinned to a release: {web.base}"
    for package in ("package.json", "examples/storefront/package.json"):
        engines = json.loads((REPO / package).read_text())["engines"]["node"]
        assert engines.startswith(">=") and version(tag) >= version(engines), (package, engines, tag)


def test_the_image_builds_the_console_and_the_storefront_as_the_makefile_does() -> None:
    web = next(stage for stage in stages() if stage.name == "web")
    runs = " && ".join(web.arguments("RUN"))
    makefile = (REPO / "Makefile").read_text()
    console_recipe = re.search(r"^\$\(CONSOLE_BUILT\):.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert console_recipe is not None

    for command in console_recipe.group(1).split("\n"):
        assert command.strip() in runs
    assert "cd examples/storefront && npm run --silent build" in runs
    assert runs.count("npm ci") == 2  # the root lock and the storefront's


def test_the_final_image_carries_the_built_sites_where_myshop_sites_serves_them() -> None:
    final = stages()[-1]
    instructions = [f"{word} {argument}" for word, argument in final.instructions]
    install = next(i for i, line in enumerate(instructions) if "pip install --no-deps" in line)
    console = next(i for i, line in enumerate(instructions) if "/myshop/console/static" in line)
    storefront = next(line for line in instructions if "/examples/storefront/dist" in line)
    workdir = final.arguments("WORKDIR")[0]

    # Before the install: setup.py copies myshop/console/static into the installed package.
    assert console < install
    assert instructions[console].split()[-1] in ("./myshop/console/static", "myshop/console/static")
    destination = PurePosixPath(workdir) / storefront.split()[-1]
    assert f"MYSHOP_STOREFRONT_DIR={destination}" in final.arguments("ENV")
    exposed = " ".join(final.arguments("EXPOSE")).split()
    assert all(str(port) in exposed for port in DEFAULT_PORTS.values())


def test_every_file_the_image_copies_is_in_the_build_context() -> None:
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for stage in stages():
        for argument in stage.arguments("COPY"):
            if argument.startswith("--from="):
                continue
            for source in argument.split()[:-1]:
                assert (REPO / source).exists(), source
                parts = PurePosixPath(source).parts
                prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
                assert not [p for p in ignored for prefix in prefixes if fnmatch(prefix, p)], source
    # What the web stage builds itself never comes from the host.
    assert {"**/node_modules", "myshop/console/static", "examples/storefront/dist"} <= set(ignored)


def test_compose_serves_the_sites_and_the_router_lets_their_origins_in() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    sites, router = services["sites"], services["router"]

    assert sites["command"][:2] == ["myshop", "sites"]
    assert {"--console", "--storefront"} <= set(sites["command"])
    assert "localhost:4000/graphql" in sites["environment"]["MYSHOP_SITES_ROUTER_URL"]
    origins = json.loads(router["environment"]["MYSHOP_ROUTER_CORS__ORIGINS"])
    for name, port in DEFAULT_PORTS.items():
        prefix = f"MYSHOP_{name.upper()}_"
        assert sites["environment"][f"{prefix}HOST"] == "0.0.0.0"
        assert sites["environment"][f"{prefix}PORT"] == str(port)
        assert f"{port}:{port}" in sites["ports"]
        assert f"http://localhost:{port}" in origins
    assert "/health" in " ".join(sites["healthcheck"]["test"])
