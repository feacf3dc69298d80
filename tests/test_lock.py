"""requirements/lock.txt (and runtime.txt, the same pins without the extras) against pyproject.toml,
offline: the lock cannot drift silently.

Every requirement of pyproject.toml (its dependencies, the extras the lock covers, the build's own
requirements) must be pinned in the lock at a version it accepts, and so must every requirement of every
pinned package (read from the metadata of the installed distributions, which `make` installs from the lock);
nothing may be pinned that none of them needs (a dependency dropped without relocking), and every pin carries
hashes. Markers are evaluated for the lock's target (CPython 3.11 on Linux x86_64, Makefile `lock`), so a
lock made there reads the same on any machine that runs this test.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "lock.txt"
RUNTIME_LOCK = REPO / "requirements" / "runtime.txt"
# The extras `make lock` locks (Makefile: `--extra test --extra bench`).
LOCKED_EXTRAS = ("test", "bench")
# `uv pip compile --python-version 3.11 --python-platform x86_64-manylinux_2_28`: 3.11 is 3.11.0 to it.
TARGET = {
    **default_environment(),
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}
REINSTALL = "run `make .venv/.installed`"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")


@dataclass
class Pin:
    version: str
    hashes: list[str] = field(default_factory=list)


def parse_lock(text: str) -> dict[NormalizedName, Pin]:
    """The pins of a `--generate-hashes` requirements file: `name==version \\` then `--hash=...` lines."""
    pins: dict[NormalizedName, Pin] = {}
    current: Pin | None = None
    for raw in text.splitlines():
        line = raw.strip().removesuffix("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            assert current is not None, f"a hash before any pin: {raw}"
            current.hashes.append(line.removeprefix("--hash="))
            continue
        match = PIN.match(line)
        assert match, f"not a pinned requirement: {raw}"
        current = pins[canonicalize_name(match["name"])] = Pin(match["version"])
    return pins


def roots(pyproject: dict[str, Any], extras: tuple[str, ...]) -> list[tuple[Requirement, str]]:
    """What pyproject.toml asks for, each with who asks."""
    project = pyproject["project"]
    wanted = [(Requirement(text), "pyproject.toml dependencies") for text in project["dependencies"]]
    for extra in extras:
        extras = project["optional-dependencies"][extra]
        wanted += [(Requirement(text), f"pyproject.toml [{extra}]") for text in extras]
    wanted += [(Requirement(text), "[build-system]") for text in pyproject["build-system"]["requires"]]
    return wanted


def requires(name: str, version: str) -> list[Requirement]:
    """The Requires-Dist of a pinned package, from its installed metadata (which must be that version)."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise LookupError(f"{name} {version} is locked but not installed: {REINSTALL}") from None
    if canonicalize_name(dist.version) != canonicalize_name(version):
        raise LookupError(f"{name} is {dist.version} here, {version} in the lock: {REINSTALL}")
    return [Requirement(text) for text in dist.requires or ()]


def lock_problems(
    pyproject: dict[str, Any], lock_text: str, extras: tuple[str, ...] = LOCKED_EXTRAS
) -> list[str]:
    """What is wrong between pyproject.toml (with these extras) and a lock; empty when they agree."""
    pins = parse_lock(lock_text)
    problems = [f"{name}=={pin.version} has no hash" for name, pin in pins.items() if not pin.hashes]
    pending = roots(pyproject, extras)
    reached: set[tuple[NormalizedName, frozenset[str]]] = set()
    while pending:
        requirement, wanted_by = pending.pop()
        name = canonicalize_name(requirement.name)
        if requirement.marker is not None and not requirement.marker.evaluate({**TARGET, "extra": ""}):
            continue
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{requirement} (wanted by {wanted_by}) is not in the lock: run `make lock`")
            continue
        if not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{wanted_by} wants {requirement}, the lock pins {pin.version}: run `make lock`")
        key = (name, frozenset(requirement.extras))
        if key in reached:
            continue
        reached.add(key)
        try:
            dependencies = requires(name, pin.version)
        except LookupError as exc:
            problems.append(str(exc))
            continue
        for dependency in dependencies:
            # A dependency is wanted without an extra, or under one of the extras this requirement names.
            if dependency.marker is None or any(
                dependency.marker.evaluate({**TARGET, "extra": extra}) for extra in ("", *requirement.extras)
            ):
                # Decided here, where `extra` means this requirement's extras.
                dependency.marker = None
                pending.append((dependency, f"{name} {pin.version}"))
    needed = {name for name, _extras in reached}
    problems += [
        f"{name}=={pins[name].version} is locked but nothing needs it: run `make lock`"
        for name in sorted(set(pins) - needed)
    ]
    return problems


def read_pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_lock_pins_exactly_what_pyproject_needs_with_hashes() -> None:
    assert lock_problems(read_pyproject(), LOCK.read_text(encoding="utf-8")) == []


def test_the_runtime_lock_pins_the_same_without_the_extras() -> None:
    runtime_text = RUNTIME_LOCK.read_text(encoding="utf-8")
    assert lock_problems(read_pyproject(), runtime_text, extras=()) == []
    full = parse_lock(LOCK.read_text(encoding="utf-8"))
    runtime = parse_lock(runtime_text)
    assert {name: runtime[name] for name in runtime} == {name: full[name] for name in runtime}


def test_a_dependency_added_to_pyproject_without_relocking_is_found() -> None:
    pyproject = read_pyproject()
    pyproject["project"]["dependencies"].append("left-pad>=1.0")
    problems = lock_problems(pyproject, LOCK.read_text(encoding="utf-8"))
    assert len(problems) == 1 and "left-pad>=1.0" in problems[0], problems


def test_a_raised_minimum_the_lock_does_not_meet_is_found() -> None:
    pyproject = read_pyproject()
    pyproject["project"]["dependencies"] = [
        "orjson>=999" if text.startswith("orjson") else text for text in pyproject["project"]["dependencies"]
    ]
    problems = lock_problems(pyproject, LOCK.read_text(encoding="utf-8"))
    assert len(problems) == 1 and "orjson>=999" in problems[0], problems


def test_a_locked_package_missing_from_the_lock_is_found() -> None:
    # h11 is nobody's direct dependency in pyproject.toml: httpcore and uvicorn need it.
    text = LOCK.read_text(encoding="utf-8")
    without_h11 = re.sub(r"^h11==.*?(?=^\S)", "", text, flags=re.S | re.M)
    assert without_h11 != text
    problems = lock_problems(read_pyproject(), without_h11)
    assert problems and all(problem.startswith("h11") for problem in problems), problems


def test_a_pin_nothing_needs_any_more_is_found() -> None:
    text = LOCK.read_text(encoding="utf-8") + "left-pad==1.3.0 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    assert lock_problems(read_pyproject(), text) == [
        "left-pad==1.3.0 is locked but nothing needs it: run `make lock`"
    ]


def test_make_installs_the_lock_hash_checked_and_the_project_without_resolving() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in makefile
    assert "LOCK := requirements/lock.txt" in makefile
