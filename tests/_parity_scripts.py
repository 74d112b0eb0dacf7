"""Load a script of ``benchmarks/parity/`` as a module, by its path (the folders
are not packages, and several hold files of the same name)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PARITY = Path(__file__).resolve().parents[1] / "benchmarks" / "parity"


def load_script(relpath: str, name: str, *, register: bool = False) -> ModuleType:
    """``benchmarks/parity/<relpath>`` as module ``name``; ``register`` also puts it in
    ``sys.modules`` under that name (for scripts that import it by that name)."""
    spec = importlib.util.spec_from_file_location(name, PARITY / relpath)
    mod = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
