"""Shipped training recipes: LOVE's and AIGV-Assessor's evaluators as config files.

``path("love")`` is the file to pass to ``videojury train`` (copy it, fill in
``data.*`` and ``output_dir``); docs/training.md "Recipes" gives their memory
and time per GPU type.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError

FOLDER = Path(__file__).resolve().parent


def names() -> list[str]:
    """The shipped recipes (file names without ``.yaml``)."""
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


def path(name: str) -> Path:
    """The file of recipe ``name``."""
    p = FOLDER / f"{name}.yaml"
    if not p.is_file():
        raise InputError(f"no training recipe {name!r}; shipped: {', '.join(names())}")
    return p
