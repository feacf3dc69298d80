"""The storefront's generated types (examples/storefront/src/gql/) against the router's API schema: generated
again by GraphQL Code Generator they must equal the committed ones, and the storefront must type-check
(`tsc --noEmit`) with them, so a schema change that breaks an operation or a type the storefront uses fails
here until `make storefront-types` is run and the code fixed."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STOREFRONT = REPO / "examples" / "storefront"
COMMITTED = STOREFRONT / "src" / "gql"
BIN = STOREFRONT / "node_modules" / ".bin"

# CI (`make test` installs the storefront's node_modules first) must run it: there a missing install fails.
pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and (not (BIN / "graphql-codegen").exists() or not shutil.which("node")),
    reason="needs the storefront's node_modules: `make examples/storefront/node_modules/.installed`",
)


def api_schema_sdl() -> str:
    """The API schema as the router serves it, printed by the partner client's generator (one way to it)."""
    spec = importlib.util.spec_from_file_location("partner_generate", REPO / "examples/partner/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.api_schema_sdl())


def codegen(schema: Path, out: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "STOREFRONT_SCHEMA": str(schema), "STOREFRONT_TYPES_OUT": f"{out}/"}
    command = [str(BIN / "graphql-codegen"), "--config", "codegen.ts"]
    return subprocess.run(
        command, cwd=STOREFRONT, env=environment, capture_output=True, text=True, timeout=120
    )


def files(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.ts"))}


def test_the_committed_types_are_what_the_api_schema_generates(tmp_path: Path) -> None:
    # Given the types generated now from the API schema of the committed supergraph
    schema = tmp_path / "api.graphql"
    schema.write_text(api_schema_sdl(), encoding="utf-8")
    run = codegen(schema, tmp_path / "gql")
    assert run.returncode == 0, run.stdout + run.stderr

    # Then the committed ones are the same, file for file
    fresh, committed = files(tmp_path / "gql"), files(COMMITTED)
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert not stale, f"examples/storefront/src/gql/ stale ({', '.join(stale)}): run `make storefront-types`"


def type_check(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "tsc"), "--noEmit", "--pretty", "false", *options]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=180)


def test_the_storefront_type_checks_with_its_generated_types() -> None:
    run = type_check(STOREFRONT)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_type_change_the_code_does_not_fit_fails_the_type_check(tmp_path: Path) -> None:
    # Given a copy of the storefront whose types come from the API schema with Money.amount a String
    copy = tmp_path / "storefront"
    shutil.copytree(STOREFRONT / "src", copy / "src")
    for name in ("tsconfig.json", "codegen.ts", "vite.config.ts"):
        shutil.copy(STOREFRONT / name, copy / name)
    (copy / "node_modules").symlink_to(STOREFRONT / "node_modules")
    sdl, changed = re.subn(r"(type Money \{[^}]*?amount: )Int!", r"\1String!", api_schema_sdl())
    assert changed == 1
    schema = tmp_path / "api.graphql"
    schema.write_text(sdl, encoding="utf-8")
    generated = codegen(schema, copy / "src" / "gql")
    assert generated.returncode == 0, generated.stdout + generated.stderr

    # Then the operations still validate, but the code doing arithmetic on amounts no longer type-checks
    run = type_check(copy, "--tsBuildInfoFile", str(tmp_path / "tsc.tsbuildinfo"))  # not the storefront's
    assert run.returncode != 0
    assert "error TS" in run.stdout and "amount" in run.stdout, run.stdout


def test_a_schema_without_a_field_the_storefront_asks_for_fails_the_generation(tmp_path: Path) -> None:
    # Given the API schema with `checkoutComplete` renamed (a breaking change to the mutation checkout sends)
    sdl = api_schema_sdl()
    assert "  checkoutComplete(" in sdl
    schema = tmp_path / "api.graphql"
    schema.write_text(sdl.replace("  checkoutComplete(", "  completeCheckout("), encoding="utf-8")

    # Then the generation fails, naming the field, and writes nothing
    run = codegen(schema, tmp_path / "gql")
    assert run.returncode != 0
    assert "checkoutComplete" in run.stdout + run.stderr
    assert not (tmp_path / "gql" / "graphql.ts").exists()
