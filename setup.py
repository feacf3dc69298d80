"""The build's two jobs beyond pyproject.toml:

- the router's hot modules (router/execution/compiled.py's HOT_MODULES) compiled to C extensions by Cython
  from their .py, which stays the source and the fallback. Without a C compiler (the extensions are optional:
  a failed one is skipped), without Cython, or with MYSHOP_PURE_PYTHON=1, the distribution installs as pure
  Python;
- GraphiQL's pinned UMD assets (router/http/graphiql ASSET_SOURCES) copied from node_modules into the built
  package's `router/http/graphiql/assets/`, so a wheel serves GraphiQL on a machine without Node. An editable
  install copies nothing (the checkout's router reads node_modules); an sdist carries the copy, for the wheel
  built from it;
- the admin console as vite built it (`make console`: myshop/console/static/, gitignored) copied into the
  built package, so `myshop up` from a wheel serves it; a build without it warns and ships none.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
PACKAGE = "router.execution"
GRAPHIQL = Path("router", "http", "graphiql")
CONSOLE_STATIC = Path("myshop", "console", "static")


def module_constant(relative: Path, name: str) -> Any:
    """A literal assigned at a module's top level, read without importing it (nor the router's deps)."""
    tree = ast.parse((HERE / relative).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names = [getattr(target, "id", None) for target in node.targets]
        elif isinstance(node, ast.AnnAssign):
            names = [getattr(node.target, "id", None)]
        else:
            continue
        if name in names and node.value is not None:
            return ast.literal_eval(node.value)
    raise LookupError(f"{relative} has no {name}")


def hot_modules() -> tuple[str, ...]:
    """HOT_MODULES of router/execution/compiled.py."""
    return tuple(module_constant(Path("router", "execution", "compiled.py"), "HOT_MODULES"))


def stage_graphiql_assets(package_root: Path) -> None:
    """Copies each GraphiQL asset from node_modules to `<package_root>/router/http/graphiql/assets/<served
    name>`. Without node_modules (`npm ci` not run, or a build from an sdist, which already holds the copy)
    it copies nothing: a build without Node still succeeds, and says what its router will lack."""
    sources: dict[str, tuple[str, str]] = module_constant(GRAPHIQL / "__init__.py", "ASSET_SOURCES")
    target = package_root / GRAPHIQL / "assets"
    found = {name: HERE / "node_modules" / relative for name, (relative, _type) in sources.items()}
    if not all(path.is_file() for path in found.values()):
        if not all((target / name).is_file() for name in sources):
            print(
                "warning: GraphiQL's assets are not in node_modules (run `npm ci`): this build's router "
                "serves GraphiQL only from a node_modules it is pointed at (MYSHOP_ROUTER_NODE_MODULES)",
                file=sys.stderr,
            )
        return
    target.mkdir(parents=True, exist_ok=True)
    for name, path in found.items():
        shutil.copyfile(path, target / name)


def stage_console(package_root: Path) -> None:
    """Copies the built console (`make console`) into `<package_root>/myshop/console/static/`; without a build
    (and none already there, as in an sdist) it warns: that distribution serves no console."""
    built, target = HERE / CONSOLE_STATIC, package_root / CONSOLE_STATIC
    if not (built / "index.html").is_file():
        if not (target / "index.html").is_file():
            print(
                "warning: the admin console is not built (run `make console`): not in this build",
                file=sys.stderr,
            )
        return
    if target.resolve() != built.resolve():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(built, target)


class BuildPyWithGraphiQL(build_py):
    def run(self) -> None:
        super().run()
        # Editable: the checkout is the package, and its router reads node_modules as it changes.
        if not self.editable_mode:
            stage_graphiql_assets(Path(self.build_lib))
            stage_console(Path(self.build_lib))


class SdistWithGraphiQL(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        stage_graphiql_assets(Path(base_dir))
        stage_console(Path(base_dir))


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


setup(ext_modules=extensions(), cmdclass={"build_py": BuildPyWithGraphiQL, "sdist": SdistWithGraphiQL})
