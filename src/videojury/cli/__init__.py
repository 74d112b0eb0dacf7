"""The ``videojury`` command line.

One module per verb in this package; each defines ``register(subparsers)``,
which adds its sub-command and sets ``func=run`` where ``run(args) -> int``
returns the exit status. Modules are discovered, so a new verb is a new file.
Exit status: 0 success, 1 some items failed, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import pkgutil
import sys
from typing import Sequence

from rich.console import Console
from rich.text import Text

from ..errors import VideoJuryError

# Both consoles print text as it is: user text (prompts, file names such as
# 'take [v2].mp4', model names, install hints such as videojury[ray]) is never
# read as rich markup. Colour comes from `styled`, never from markup tags.
console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)
# Tables go to stdout; piped to a file they keep their width instead of
# folding every cell at 80 columns.
out = Console(highlight=False, markup=False, emoji=False,
              width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 250)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line from plain strings and ``(text, style)`` pairs, e.g.
    ``styled(("warning:", "yellow"), " ", message)``; no part is read as markup."""
    return Text.assemble(*parts)


def warn(message: str) -> None:
    """Print ``warning: message`` on stderr (the message printed as it is)."""
    console.print(styled(("warning:", "yellow"), " ", str(message)), soft_wrap=True)

# Verbs in the order `videojury --help` shows them; discovered extras follow.
_ORDER = ("demo", "score", "metrics", "export", "bench", "leaderboard", "report", "mos", "pairs",
          "correlate", "fit", "train")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every discovered sub-command."""
    from .._version import __version__

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


def _check_numbers(args: argparse.Namespace) -> None:
    """Checks every verb shares: float options finite, seeds not negative."""
    for key, value in vars(args).items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, float) and not math.isfinite(value):
            raise VideoJuryError(f"{flag} must be a finite number, got {value}")
        if key == "seed" and isinstance(value, int) and value < 0:
            raise VideoJuryError(f"--seed must be 0 or more, got {value}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``videojury`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        _check_numbers(args)
        return int(args.func(args) or 0)
    except VideoJuryError as exc:
        console.print(styled(("error:", "bold red"), " ", str(exc)), soft_wrap=True)
        return 2
    except OSError as exc:
        # A path the user gave that cannot be used (not a folder, permission
        # denied, disk full): one line naming it, not a traceback.
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        console.print(styled(("error:", "bold red"), " ", f"{where}{exc.strerror or exc}"),
                      soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print(styled(("interrupted", "yellow"),
                             ": results computed so far are kept in the store"))
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
