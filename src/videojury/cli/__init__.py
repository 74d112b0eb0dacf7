"""The ``videojury`` command line.

One module per verb in this package; each defines ``register(subparsers)``,
which adds its sub-command and sets ``func=run`` where ``run(args) -> int``
returns the exit status. Modules are discovered, so a new verb is a new file.
Exit status: 0 success, 1 some items failed, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from typing import Sequence

from rich.console import Console

from ..errors import VideoJuryError

console = Console(stderr=True, highlight=False, soft_wrap=True)
# Tables go to stdout; piped to a file they keep their width instead of
# folding every cell at 80 columns.
out = Console(highlight=False,
              width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 250)

# Verbs in the order `videojury --help` shows them; discovered extras follow.
_ORDER = ("demo", "score", "metrics", "export", "bench", "leaderboard", "report", "mos", "pairs",
          "correlate", "fit", "train")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every discovered sub-command."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="videojury",
        description="Judge AI-generated video, and judge the judges.",
    )
    parser.add_argument("--version", action="version", version=f"videojury {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    names.sort(key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``videojury`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VideoJuryError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: results computed so far are kept in the store")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
