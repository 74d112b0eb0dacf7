"""Enter t2v_metrics' packages without running their ``__init__`` (shared by the reference scripts).

The package ``__init__`` files import every scorer t2v_metrics ships, with their
many dependencies; entering ``t2v_metrics``, ``t2v_metrics.models`` and
``t2v_metrics.models.vqascore_models`` as bare packages lets one scorer module run
as shipped with only its own imports satisfied.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


def enter_package(name: str, path: Path) -> None:
    mod = types.ModuleType(name)
    mod.__path__ = [str(path)]
    sys.modules[name] = mod


def enter_t2v_metrics(root: Path | None = None) -> Path:
    """Enter the three packages from ``root`` (the ``t2v_metrics`` folder; found on
    ``sys.path`` when not given) and return it."""
    if root is None:
        spec = importlib.util.find_spec("t2v_metrics")
        if spec is None or not spec.submodule_search_locations:
            sys.exit("t2v_metrics is not on PYTHONPATH (see the script's docstring)")
        root = Path(list(spec.submodule_search_locations)[0])
    enter_package("t2v_metrics", root)
    enter_package("t2v_metrics.models", root / "models")
    enter_package("t2v_metrics.models.vqascore_models", root / "models" / "vqascore_models")
    return root
