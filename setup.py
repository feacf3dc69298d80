"""The build's one job beyond pyproject.toml: the router's hot modules (router/execution/compiled.py's
HOT_MODULES) compiled to C extensions by Cython from their .py, which stays the source and the fallback.
Without a C compiler (the extensions are optional: a failed one is skipped), without Cython, or with
MYSHOP_PURE_PYTHON=1, the distribution installs as pure Python."""

from __future__ import annotations

import ast
import os
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
PACKAGE = "router.execution"


def hot_modules() -> tuple[str, ...]:
    """HOT_MODULES, read from router/execution/compiled.py without importing the router."""
    tree = ast.parse((HERE / "router" / "execution" / "compiled.py").read_text(encoding="utf-8"))
    for node in tree.body:
        names = [getattr(target, "id", None) for target in getattr(node, "targets", ())]
        if isinstance(node, ast.Assign) and "HOT_MODULES" in names:
            return tuple(ast.literal_eval(node.value))
    raise LookupError("router/execution/compiled.py has no HOT_MODULES")


def extensions() -> list[Extension]:
    if os.environ.get("MYSHOP_PURE_PYTHON", "").strip().lower() not in ("", "0", "false", "no"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:  # a build without build isolation and without Cython: pure Python
        return []
    modules = [Extension(f"{PACKAGE}.{name}", [f"router/execution/{name}.py"]) for name in hot_modules()]
    built = cythonize(
        modules,
        # The .c files stay out of the source tree; binding=True keeps the functions introspectable
        # (signatures, inspect) like the .py ones.
        build_dir="build/cython",
        compiler_directives={"language_level": 3, "binding": True},
        quiet=True,
    )
    for extension in built:
        # No C compiler (python:3.11-slim, the Dockerfile's base): build_ext skips it, the .py runs.
        # (Set after cythonize, which makes Extensions of its own without it.)
        extension.optional = True
    return built


setup(ext_modules=extensions())
