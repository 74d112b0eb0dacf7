"""How a metric is called: load once, score a batch, fall back to one item at a time.

The run's executors (through :mod:`videojury.run.batching`) and a metric
called on frames in memory (``Metric.__call__``/``batch``) share this code,
so both give the same scores and the same errors. It sits with the metrics
because it needs nothing above them.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import MetricError, VideoJuryError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..video import Frames
    from .base import Metric


class MetricLoadError(MetricError):
    """A metric's ``load()`` failed: no item of it can be computed in this run."""

    def __init__(self, label: str, cause: BaseException):
        self.label = label
        self.cause_text = error_text(cause)
        self.done: list = []  # outcomes of a batch's first items when scoring stopped it
        super().__init__(f"metric {label} could not be loaded: {self.cause_text}")


def error_text(exc: BaseException) -> str:
    """The message stored for a failed item."""
    if isinstance(exc, VideoJuryError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory while scoring this video"
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{exc.__class__.__name__}: {exc}{at}"


def ensure_loaded(metric: Metric) -> None:
    """Run the metric's ``load()`` once (timed as ``timings["load"]``).

    Raises :class:`MetricLoadError` when it fails; the next call tries again.
    """
    if metric.__dict__.get("_videojury_loaded"):
        return
    metric.__dict__.setdefault("timings", {})
    with metric.timed("load"):
        try:
            metric.load()
        except Exception as exc:  # noqa: BLE001 - about the run, not an item
            raise MetricLoadError(metric.label, exc) from exc
    metric.__dict__["_videojury_loaded"] = True


def _stop_if_fatal(metric: Metric, exc: BaseException, done: list | None = None) -> None:
    """An error that says no further item can be scored (``stops_metric = True``, e.g. a
    hosted model refusing the API key) stops the metric for the run, like a failed load.

    ``done``: the outcomes of the batch's first items, scored before the stop (the
    executor stores them; a batch that stops is first retried item by item)."""
    if getattr(exc, "stops_metric", False):
        metric.__dict__.pop("_videojury_loaded", None)  # the next run loads it again
        err = MetricLoadError(metric.label, exc)
        err.done = list(done or [])
        raise err from exc


def score_batch_safely(metric: Metric, frames: Sequence[Frames], items: Sequence[Any]
                       ) -> tuple[list[dict | BaseException], float, float]:
    """Score a batch; per item the checked scores or the exception.

    A batch that raises is scored again one item at a time, so one bad video
    does not take its neighbours down. The metric's :meth:`~Metric.load` runs
    before its first batch (see :func:`ensure_loaded`; a failure raises
    :class:`MetricLoadError`). Returns the outcomes and the seconds spent in
    preprocessing and in the rest of the metric.
    """
    ensure_loaded(metric)
    timings = metric.__dict__.setdefault("timings", {})
    pre0 = timings.get("preprocess", 0.0)
    t0 = time.perf_counter()
    outcomes: list[dict | BaseException]
    try:
        scores = metric.score_batch(frames, items)
        if len(scores) != len(frames):
            raise VideoJuryError(f"metric {metric.name} returned {len(scores)} results for "
                                 f"{len(frames)} items")
        outcomes = []
        for s in scores:
            try:
                outcomes.append(metric.check_scores(s))
            except Exception as exc:  # noqa: BLE001 - recorded per item
                outcomes.append(exc)
    except Exception as exc:  # noqa: BLE001
        if len(frames) == 1:
            _stop_if_fatal(metric, exc)
            outcomes = [exc]
        else:
            outcomes = []
            for f, it in zip(frames, items):
                try:
                    outcomes.append(metric.check_scores(metric.score(f, it)))
                except Exception as exc2:  # noqa: BLE001
                    _stop_if_fatal(metric, exc2, outcomes)
                    outcomes.append(exc2)
    total = time.perf_counter() - t0
    pre = timings.get("preprocess", 0.0) - pre0
    return outcomes, pre, max(0.0, total - pre)


__all__ = ["MetricLoadError", "ensure_loaded", "error_text", "score_batch_safely"]
