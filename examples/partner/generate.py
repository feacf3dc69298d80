"""Generates the partner's typed client (examples/partner/client/) with ariadne-codegen from the router's API
schema (the committed supergraph without its federation machinery and `@inaccessible` parts, as the router
serves it) and the partner's operations (operations.graphql): `make partner-client`.

ariadne-codegen wants an older graphql-core and ruff than the project's, so it runs from a venv of its own
(`build/codegen/venv`, installed hash-checked from requirements/codegen.txt by `make partner-client`); this
script runs in the project's venv, which prints the API schema. The generated code is then fixed and formatted
by the project's ruff, so it reads like the rest of the repository and `make lint` passes on it.

    .venv/bin/python examples/partner/generate.py [--out DIR]   # DIR/client (default: beside this file)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from graphql import print_schema

from router.supergraph import build_api_schema, load_supergraph

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SUPERGRAPH = REPO / "schema" / "supergraph.graphql"
OPERATIONS = HERE / "operations.graphql"
PACKAGE = "client"
CODEGEN = Path(
    os.environ.get("ARIADNE_CODEGEN", REPO / "build" / "codegen" / "venv" / "bin" / "ariadne-codegen")
)
# ariadne-codegen's settings, in a config file of its own: it runs in a temporary folder holding the API
# schema and a copy of the operations under fixed names, so the `# Source:` line of each generated module is
# the same on every machine. No `__typename` added to the selections: the partner's JSON lines keep the fields
# the operations name. DateTime as `datetime` (ISO 8601 both ways).
SETTINGS = f"""\
[tool.ariadne-codegen]
schema_path = "api.graphql"
queries_path = "operations.graphql"
target_package_path = "."
target_package_name = "{PACKAGE}"
include_typename = false
include_all_inputs = false
include_all_enums = false
include_comments = "stable"

[tool.ariadne-codegen.scalars.DateTime]
type = "datetime.datetime"
"""


def api_schema_sdl() -> str:
    """The SDL of the API schema the router builds from the committed supergraph."""
    _, document, names = load_supergraph(SUPERGRAPH.read_text(encoding="utf-8"))
    return print_schema(build_api_schema(document, names)) + "\n"


def generate(out: Path, operations: Path = OPERATIONS) -> Path:
    """Writes `out/client` afresh (the previous one replaced whole, so a removed operation leaves nothing)."""
    if not CODEGEN.exists():
        raise SystemExit(f"{CODEGEN} is missing: run `make partner-client` (it installs ariadne-codegen)")
    with tempfile.TemporaryDirectory(prefix="partner-codegen-") as temporary:
        work = Path(temporary)
        (work / "api.graphql").write_text(api_schema_sdl(), encoding="utf-8")
        shutil.copyfile(operations, work / "operations.graphql")
        (work / "ariadne-codegen.toml").write_text(SETTINGS, encoding="utf-8")
        command = [str(CODEGEN), "--config", "ariadne-codegen.toml", "client"]
        run = subprocess.run(command, cwd=work, capture_output=True, text=True)
        if run.returncode:
            # ariadne-codegen names the operation and field the schema no longer has: that is the message.
            raise SystemExit(f"ariadne-codegen failed:\n{run.stdout}{run.stderr}")
        generated = work / PACKAGE
        # The project's ruff and settings, not the generator's, so the committed code passes `make lint`; its
        # unsafe fixes are two: `StrEnum` for `(str, Enum)` and `X | None` for `None | X`.
        ruff = [sys.executable, "-m", "ruff"]
        settings = ["--quiet", "--config", str(REPO / "pyproject.toml")]
        subprocess.run([*ruff, "check", "--fix", "--unsafe-fixes", *settings, str(generated)], check=True)
        subprocess.run([*ruff, "format", *settings, str(generated)], check=True)
        target = out / PACKAGE
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(generated, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate the partner's typed client with ariadne-codegen.")
    parser.add_argument("--out", type=Path, default=HERE, help="the folder that gets the `client` package")
    target = generate(parser.parse_args().out)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
