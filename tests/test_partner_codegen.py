"""The partner's generated client (examples/partner/client/) against the API schema and the operations it is
generated from: regenerated into a temporary folder, it must equal the committed one, so a schema change that
breaks or changes a partner operation fails here until `make partner-client` is run (and the break seen)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "examples" / "partner" / "client"


def load_generator() -> ModuleType:
    """examples/partner/generate.py (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("partner_generate", COMMITTED.parent / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def files(package: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(package.glob("*.py"))}


def test_the_committed_partner_client_is_what_the_schema_and_operations_generate(tmp_path: Path) -> None:
    # Given the client generated now from the committed supergraph and operations.graphql
    fresh = files(load_generator().generate(tmp_path))

    # Then the committed package is the same, file for file
    committed = files(COMMITTED)
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert not stale, f"examples/partner/client/ is stale ({', '.join(stale)}): run `make partner-client`"


def test_an_operation_the_api_schema_cannot_answer_fails_the_generation(tmp_path: Path) -> None:
    # Given the partner's operations plus one asking for a field the API schema hides (saga-internal)
    operations = tmp_path / "operations.graphql"
    operations.write_text(
        (COMMITTED.parent / "operations.graphql").read_text(encoding="utf-8")
        + "\nmutation Charge($id: ID!) { chargePayment(orderId: $id) { id } }\n",
        encoding="utf-8",
    )

    # Then nothing is generated, and the failure names the field
    with pytest.raises(SystemExit, match="chargePayment"):
        load_generator().generate(tmp_path / "out", operations)
    assert not (tmp_path / "out" / "client").exists()
