"""Exceptions raised by videojury.

Every error carries enough context (file, row, field) for the user to act on
it; the executor records the message of a per-item error in the store and
goes on with the next item.
"""

from __future__ import annotations


class VideoJuryError(Exception):
    """Base class of every error videojury raises on purpose."""


class VideoError(VideoJuryError):
    """A video could not be opened, decoded or sampled (names the file)."""

    def __init__(self, path: object, message: str):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


class InputError(VideoJuryError):
    """A manifest, prompts file or table is malformed (names file, row, column)."""


class MetricError(VideoJuryError):
    """Unknown metric, bad options, or a metric that cannot run on an item."""


class MissingExtraError(VideoJuryError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, extra: str, package: str, what: str = ""):
        self.extra = extra
        msg = (
            f"{what + ' needs ' if what else ''}the optional package '{package}', "
            f"which is not installed. Install it with: pip install 'videojury[{extra}]'"
        )
        super().__init__(msg)


def require(package: str, extra: str, what: str = ""):
    """Import ``package`` or raise :class:`MissingExtraError` naming ``extra``."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise MissingExtraError(extra, package, what) from exc
