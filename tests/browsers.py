"""What the headless-browser tests need (Debian's Chromium driven by playwright-core from Node): one skip
rule for all of them. CI (and `make test`, which installs Chromium where it can and builds the sites) must run
them, so there a missing part fails instead of skipping."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")


def needs_browser(*built: Path, also: str = "") -> pytest.MarkDecorator:
    """Skips (outside CI) without Chromium, `npm ci`'s playwright-core, Node, or a site in `built` (each a
    folder that holds its built index.html); `also` names how to build those."""
    missing = (
        not CHROMIUM.exists()
        or not (REPO / "node_modules" / "playwright-core").exists()
        or not shutil.which("node")
        or not all((folder / "index.html").is_file() for folder in built)
    )
    reason = "needs /usr/bin/chromium (apt-get install chromium: .ci/run does) and `npm ci` (playwright-core)"
    return pytest.mark.skipif(
        not os.environ.get("CI") and missing, reason=reason + (f", {also}" if also else "")
    )
