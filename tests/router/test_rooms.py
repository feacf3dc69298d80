"""The router's rooms stay rooms: imports between them point down only, and no file or function grows past
what a reader takes in at once (500 lines a file, 80 a function)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROUTER = Path(__file__).resolve().parents[2] / "router"

# From the top down; a module may import its own room and any room below it. TYPE_CHECKING imports are left
# out: they name types, they do not run.
LAYERS: list[set[str]] = [
    {"router.server"},  # the composition root
    {"router.http"},  # the doors
    {"router.config"},  # the settings, made of each room's own
    {"router.pipeline"},
    {"router.execution"},
    {"router.ops"},
    {"router.planner", "router.upstream"},
    {"router.supergraph", "router.durations"},
]


def room_of(module: str) -> str | None:
    parts = module.split(".")
    for depth in (2, 1):
        name = ".".join(parts[:depth])
        if any(name in layer for layer in LAYERS):
            return name
    return None


def level_of(room: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if room in layer)


def module_name(path: Path) -> str:
    relative = path.relative_to(ROUTER.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def runtime_imports(tree: ast.Module) -> list[str]:
    """The `router.*` modules a module imports when it runs (not under `if TYPE_CHECKING:`)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [name for name in found if name == "router" or name.startswith("router.")]


SOURCES = sorted(ROUTER.rglob("*.py"))


def test_every_router_module_lives_in_a_room() -> None:
    assert [module_name(path) for path in SOURCES if room_of(module_name(path)) is None] == ["router"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROUTER.parent)))
def test_imports_between_rooms_point_down(path: Path) -> None:
    module = module_name(path)
    room = room_of(module)
    if room is None:
        return
    upward = [
        imported
        for imported in runtime_imports(ast.parse(path.read_text()))
        if (target := room_of(imported)) is not None and level_of(target) < level_of(room)
    ]
    assert upward == [], f"{module} ({room}) imports from rooms above it"


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROUTER.parent)))
def test_files_and_functions_stay_readable(path: Path) -> None:
    text = path.read_text()
    assert text.count("\n") <= 500
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 80
    ]
    assert long == []


def test_a_router_without_auth_rate_limit_or_entity_cache_does_not_load_their_libraries() -> None:
    """Given a router built with the default settings (no edge auth, rate limit, entity cache, readiness
    check) When its app is made Then PyJWT, httpx and redis stay out of its memory (about 20 MB)"""
    code = (
        "import sys; from pathlib import Path; from router.config import RouterConfig; "
        "from router.server import build_gateway, create_app; config = RouterConfig(graphiql=False); "
        f"sdl = Path({str(ROUTER.parent / 'schema' / 'supergraph.graphql')!r}).read_text(); "
        "create_app(build_gateway(sdl, config), config); "
        "print(','.join(m for m in ('jwt', 'httpx', 'redis') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
