"""Supergraph composition: reads Rover's ``supergraph.yaml`` and composes subgraph SDLs into the
supergraph SDL with Apollo's own ``@apollo/composition`` (run by ``compose.mjs`` under Node).

Printing each Strawberry schema to ``schema/<name>.graphql`` is the CLI's job; this module takes the
SDL text and returns the supergraph text.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "COMPOSE_SCRIPT",
    "CompositionError",
    "CompositionToolError",
    "SubgraphSDL",
    "SubgraphSource",
    "compose",
    "load_supergraph_config",
    "write_if_changed",
]

logger = logging.getLogger(__name__)

COMPOSE_SCRIPT = Path(__file__).with_name("compose.mjs")

# compose.mjs exit codes.
_EXIT_COMPOSITION_FAILED = 1

_NPM_CI_HINT = "run `npm ci` in the repository root"


class CompositionError(Exception):
    """The subgraphs do not compose: ``errors`` holds Apollo's messages, ``codes`` their error codes."""

    def __init__(self, errors: list[str], codes: Sequence[str | None] | None = None) -> None:
        self.errors = errors
        self.codes: list[str | None] = list(codes) if codes is not None else [None] * len(errors)
        lines = [f"- {code}: {message}" if code else f"- {message}" for code, message in self.issues]
        super().__init__(f"composition failed with {len(errors)} error(s):\n" + "\n".join(lines))

    @property
    def issues(self) -> list[tuple[str | None, str]]:
        return list(zip(self.codes, self.errors, strict=True))


class CompositionToolError(RuntimeError):
    """Composition could not run at all: Node or the npm packages are missing, or the script crashed."""


@dataclass(frozen=True, slots=True)
class SubgraphSource:
    """One subgraph of ``supergraph.yaml``: its name, where the router sends it requests, its SDL file."""

    name: str
    routing_url: str
    schema_file: Path

    def read(self) -> SubgraphSDL:
        return SubgraphSDL(self.name, self.routing_url, self.schema_file.read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class SubgraphSDL:
    """A subgraph ready to compose: name, routing URL and SDL text."""

    name: str
    routing_url: str
    sdl: str


def load_supergraph_config(path: Path) -> list[SubgraphSource]:
    """Read a Rover supergraph config; each ``schema.file`` is resolved against the file's directory.

    Only ``schema: {file: ...}`` sources are supported (no introspection or graph refs), and only
    Federation 2 (``federation_version: 2`` or ``=2.x.y``).
    """
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a mapping with `subgraphs`")
    version = config.get("federation_version")
    if version is not None and not str(version).lstrip("=").startswith("2"):
        raise ValueError(f"{path}: federation_version {version!r} is not Federation 2 (use `=2.x.y` or `2`)")
    subgraphs = config.get("subgraphs")
    if not isinstance(subgraphs, dict) or not subgraphs:
        raise ValueError(f"{path}: `subgraphs` must map each subgraph name to its config")

    sources = []
    for name, entry in subgraphs.items():
        where = f"{path}: subgraphs.{name}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be a mapping with `routing_url` and `schema`")
        routing_url = entry.get("routing_url")
        if not isinstance(routing_url, str) or not routing_url:
            raise ValueError(f"{where}.routing_url must be a URL")
        schema = entry.get("schema")
        schema_file = schema.get("file") if isinstance(schema, dict) else None
        if not isinstance(schema_file, str) or not schema_file:
            raise ValueError(f"{where}.schema must be `{{file: ./path/to/{name}.graphql}}`")
        sources.append(SubgraphSource(str(name), routing_url, (path.parent / schema_file).resolve()))
    return sources


def compose(
    subgraphs: Sequence[tuple[str, str, str] | SubgraphSDL | SubgraphSource],
    *,
    repo_root: Path,
    node: str | None = None,
    timeout: float = 120.0,
) -> str:
    """Compose subgraphs, given as ``(name, routing_url, sdl)`` or dataclasses, into the supergraph SDL.

    Returns the supergraph SDL ending in a newline. Raises :class:`CompositionError` when Apollo's
    composition rejects the subgraphs, and :class:`CompositionToolError` when it cannot run (no
    ``node`` on PATH, no ``node_modules``: run ``npm ci``). ``node`` overrides the Node executable.
    """
    request = {"subgraphs": [_as_request_entry(subgraph) for subgraph in subgraphs]}
    if not request["subgraphs"]:
        raise ValueError("compose() needs at least one subgraph")
    node_executable = _find_node(node)
    _check_node_modules(repo_root)

    try:
        completed = subprocess.run(
            [node_executable, str(COMPOSE_SCRIPT)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            env={**os.environ, "MYSHOP_REPO_ROOT": str(repo_root.resolve())},
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise CompositionToolError(f"composition did not finish within {timeout:g}s") from error

    reports = _parse_reports(completed.stderr)
    for code, message in reports.get("hint", []):
        logger.info("composition hint %s: %s", code, message)
    if completed.returncode == 0:
        sdl = completed.stdout
        return sdl if sdl.endswith("\n") else sdl + "\n"
    errors = reports.get("error", [])
    if completed.returncode == _EXIT_COMPOSITION_FAILED and errors:
        raise CompositionError([message for _, message in errors], [code for code, _ in errors])
    fatal = "; ".join(message for _, message in reports.get("fatal", [])) or completed.stderr.strip()
    raise CompositionToolError(
        f"{COMPOSE_SCRIPT.name} exited with status {completed.returncode}: {fatal or 'no output'}"
    )


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; return whether it wrote.

    Unchanged files keep their mtime (no spurious reloads); a write goes through a temporary file and
    a rename, so a reader never sees half a schema.
    """
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        handle.write(text)
    os.replace(handle.name, path)
    return True


def _as_request_entry(subgraph: tuple[str, str, str] | SubgraphSDL | SubgraphSource) -> dict[str, str]:
    if isinstance(subgraph, SubgraphSource):
        subgraph = subgraph.read()
    if isinstance(subgraph, SubgraphSDL):
        return {"name": subgraph.name, "url": subgraph.routing_url, "sdl": subgraph.sdl}
    name, url, sdl = subgraph
    return {"name": name, "url": url, "sdl": sdl}


def _find_node(node: str | None) -> str:
    found = shutil.which(node or "node")
    if found is None:
        raise CompositionToolError(
            f"Node.js executable {node or 'node'!r} not found on PATH; composition runs Apollo's "
            f"@apollo/composition under Node (>= 18): install Node.js, then {_NPM_CI_HINT}"
        )
    return found


def _check_node_modules(repo_root: Path) -> None:
    package = repo_root / "node_modules" / "@apollo" / "composition" / "package.json"
    if not package.is_file():
        raise CompositionToolError(
            f"{package.parent} is missing: {_NPM_CI_HINT} ({repo_root}) to install @apollo/composition"
        )


def _parse_reports(stderr: str) -> dict[str, list[tuple[str | None, str]]]:
    """Group compose.mjs's JSON stderr lines by kind; any other line (a Node crash) counts as fatal."""
    reports: dict[str, list[tuple[str | None, str]]] = {}
    for line in stderr.splitlines():
        if not line.strip():
            continue
        try:
            entry: Any = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        if isinstance(entry, dict) and isinstance(entry.get("message"), str):
            reports.setdefault(str(entry.get("kind")), []).append((entry.get("code"), entry["message"]))
        else:
            reports.setdefault("fatal", []).append((None, line))
    return reports
