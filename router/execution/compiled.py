"""The hot per-request loops compiled: `pip install` builds HOT_MODULES into C extensions when it can
(setup.py, Cython), and their .py stays the one source and the fallback.

Python would import an extension before the .py beside it; HotModuleFinder (installed by
router/execution/__init__.py) decides instead: the extension, unless MYSHOP_PURE_PYTHON=1 or the .py was
changed after the extension was built (an editable install whose source moved on: the .py, with a warning)."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# The modules of router/execution that setup.py compiles (it reads this tuple, so the two never disagree).
HOT_MODULES = ("paths", "representations", "merge")
PURE_ENV = "MYSHOP_PURE_PYTHON"
# A .py newer than its extension by more than this was edited after the build (an install writes both within
# moments of each other).
_STALE_AFTER_SECONDS = 2.0
_HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


def pure_forced() -> bool:
    return os.environ.get(PURE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def is_compiled(module: ModuleType) -> bool:
    """Whether `module` was loaded from a C extension (not its .py)."""
    return isinstance(getattr(module.__spec__, "loader", None), importlib.machinery.ExtensionFileLoader)


def compiled_modules() -> tuple[str, ...]:
    """The hot modules that run compiled in this process."""
    modules = {name: importlib.import_module(f"{__package__}.{name}") for name in HOT_MODULES}
    return tuple(name for name, module in modules.items() if is_compiled(module))


def pure_module(name: str) -> ModuleType:
    """The pure-Python `name` (one of HOT_MODULES) loaded from its .py under a name of its own, beside
    whatever the router imported: the fallback, for tests and benchmarks that compare the two in one
    process."""
    if name not in HOT_MODULES:
        raise ValueError(f"{name} is not a hot module")
    full_name = f"{__package__}._pure_{name}"
    module = sys.modules.get(full_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(full_name, _HERE / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[full_name] = module
        spec.loader.exec_module(module)
    return module


class HotModuleFinder:
    """A meta path finder for HOT_MODULES alone: the extension where it was built from the .py as it is,
    else the .py."""

    @classmethod
    def find_spec(
        cls, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __package__ or name not in HOT_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            return spec
        source = _HERE / f"{name}.py"
        if not pure_forced():
            if not _stale(Path(spec.origin or ""), source):
                return spec
            log.warning(
                "%s changed after its extension was built: running the .py (reinstall to compile it again)",
                source,
            )
        return importlib.util.spec_from_file_location(fullname, source)


def _stale(extension: Path, source: Path) -> bool:
    try:
        return source.stat().st_mtime > extension.stat().st_mtime + _STALE_AFTER_SECONDS
    except OSError:
        return False


def install_finder() -> None:
    if HotModuleFinder not in sys.meta_path:
        sys.meta_path.insert(0, HotModuleFinder)
