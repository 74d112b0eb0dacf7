"""Helpers shared by the CLI verbs: store location, progress bar, tables."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text


def split_metric_specs(value: str) -> list[str]:
    """``-m hosa,qac`` as ``-m hosa -m qac``: a value with commas and no colon
    lists metric names (options come after a colon, ``niqe:pool=median,frames=8``,
    and stay one spec)."""
    if ":" in value or "," not in value:
        return [value]
    return [part.strip() for part in value.split(",") if part.strip()]


class MetricAppend(argparse.Action):
    """A repeatable ``-m/--metric`` that also takes comma-separated names."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        items = list(current) if current else []
        items.extend(split_metric_specs(values))
        setattr(namespace, self.dest, items)


def default_store_path() -> Path:
    """Where scores are kept when ``--store`` is not given.

    ``$VIDEOJURY_STORE`` if set, else ``$XDG_CACHE_HOME/videojury/scores.sqlite``
    (``~/.cache/...``). A persistent default is what makes reruns free.
    """
    env = os.environ.get("VIDEOJURY_STORE")
    if env:
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "videojury" / "scores.sqlite"


def add_store_args(parser) -> None:
    """``--store PATH`` and ``--no-store``."""
    parser.add_argument("--store", type=Path, default=None,
                        help="SQLite results store (default: $VIDEOJURY_STORE or "
                             "~/.cache/videojury/scores.sqlite); reruns compute only what is "
                             "missing")
    parser.add_argument("--no-store", action="store_true",
                        help="keep results in memory only (nothing is reused or kept)")


def store_arg(args) -> Path | None:
    """The store path the user chose (None for in-memory)."""
    if getattr(args, "no_store", False):
        return None
    return args.store if args.store is not None else default_store_path()


@contextmanager
def progress_bar(total: int, label: str, enabled: bool | None = None) -> Iterator:
    """A rich progress bar on stderr; yields ``advance(n)``. Silent when not a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or total == 0:
        yield lambda n=1: None
        return
    from . import console

    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n=1: prog.advance(task, n)


def _auto_float(v: float) -> str:
    """About four significant digits: 0.9896, 10.80, 100.0."""
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.4f}"


def frame_table(df: pd.DataFrame, title: str | None = None, floatfmt: str | None = None,
                max_rows: int = 60) -> Table:
    """A rich table of a DataFrame (numbers formatted, long frames cut).

    ``floatfmt`` (e.g. ``"{:.3f}"``) formats every float; by default each
    gets about four significant digits.
    """
    table = Table(title=None if title is None else Text(title), show_lines=False)
    for col in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[col])
        table.add_column(Text(str(col)), justify="right" if numeric else "left",
                         overflow="fold")
    for _, row in df.head(max_rows).iterrows():
        cells = []
        for col in df.columns:
            v = row[col]
            if v is None or (isinstance(v, float) and v != v):
                cells.append("")
            elif isinstance(v, float):
                cells.append(floatfmt.format(v) if floatfmt else _auto_float(v))
            else:
                cells.append(str(v))
        # Text cells: a file name like 'take [v2].mp4' is never read as markup.
        table.add_row(*(Text(c) for c in cells))
    if len(df) > max_rows:
        table.caption = f"{len(df) - max_rows} more rows not shown"
    return table


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_file(path: Path | None, suffixes: tuple[str, ...], option: str = "--out"
                      ) -> None:
    """Refuse an output file that cannot be written, before any work starts.

    Checks the format (by suffix), that the path is not a folder, that no
    parent is a regular file and that the nearest existing folder is writable.
    """
    from ..errors import InputError

    if path is None:
        return
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{option} {path}: unknown output format "
                         f"{path.suffix or '(no suffix)'!r}; use {', '.join(suffixes)}")
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name such as "
                         f"{path / ('results' + suffixes[0])}")
    _check_parents(path.parent, option, path)


def check_output_dir(path: Path | None, option: str = "--out") -> None:
    """Refuse an output folder that is a file, lies under a file or cannot be created."""
    from ..errors import InputError

    if path is None:
        return
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path}: is a file, and this option names a folder; give a "
                         "folder (it is created if missing)")
    _check_parents(path, option, path)


def _check_parents(folder: Path, option: str, target: Path) -> None:
    from ..errors import InputError

    base = _nearest_existing(folder.absolute())
    if not base.is_dir():
        raise InputError(f"{option} {target}: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(f"{option} {target}: cannot write in {base} (permission denied)")
