"""The shape of the code, checked rather than reviewed: files stay readable and functions short (STYLE.md:
past the limit, split by concept), and every subgraph is in the import contract that keeps subgraphs apart."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from subgraphs import registry

REPO = Path(__file__).resolve().parent.parent

# The packages held to the limits (one line per package).
CHECKED = (
    "shared",
    "subgraphs",
    "myshop",
    "router",
)
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
# Pure data, exempt from both limits (a table is read by scrolling, not by following its logic).
DATA_TABLES = frozenset({"myshop/demo/catalog_words.py"})


def exempt(relative: Path) -> bool:
    """Alembic migrations (each one a fixed record of a schema change) and the data tables."""
    return "migrations" in relative.parts or relative.as_posix() in DATA_TABLES


def checked_files() -> list[Path]:
    files = [path for package in CHECKED for path in sorted((REPO / package).rglob("*.py"))]
    return [path for path in files if not exempt(path.relative_to(REPO))]


def test_the_checked_packages_have_python_files() -> None:
    for package in CHECKED:
        assert any((REPO / package).rglob("*.py")), f"{package}/ has no Python files: a stale entry?"
    for table in DATA_TABLES:
        assert (REPO / table).is_file(), f"{table} is exempt but does not exist"


def test_no_file_is_longer_than_the_limit() -> None:
    too_long = {
        path.relative_to(REPO).as_posix(): lines
        for path in checked_files()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    }

    assert too_long == {}, f"over {MAX_FILE_LINES} lines (split by concept): {too_long}"


def function_lengths(source: str) -> dict[str, int]:
    """Lines of every function and method of `source` (decorators not counted), by `line name`."""
    lengths = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lengths[f"{node.lineno} {node.name}"] = (node.end_lineno or node.lineno) - node.lineno + 1
    return lengths


def test_no_function_is_longer_than_the_limit() -> None:
    too_long = {
        f"{path.relative_to(REPO).as_posix()}:{where}": length
        for path in checked_files()
        for where, length in function_lengths(path.read_text(encoding="utf-8")).items()
        if length > MAX_FUNCTION_LINES
    }

    assert too_long == {}, f"functions over {MAX_FUNCTION_LINES} lines (split them): {too_long}"


def test_the_limits_measure_what_they_say() -> None:
    # A method of 81 lines: its `def` and 80 statements.
    body = "".join(f"        line_{n} = {n}\n" for n in range(MAX_FUNCTION_LINES))
    source = f"class Shop:\n    async def place(self):\n{body}"

    assert function_lengths(source) == {"2 place": MAX_FUNCTION_LINES + 1}
    assert exempt(Path("subgraphs/orders/migrations/versions/0001_orders.py"))
    assert not exempt(Path("shared/consumer.py"))


def test_every_subgraph_is_in_the_independence_contract() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (independence,) = [contract for contract in contracts if contract["type"] == "independence"]

    assert sorted(independence["modules"]) == sorted(f"subgraphs.{name}" for name in registry.SUBGRAPHS)
