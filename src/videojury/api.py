"""The public Python API: ``videojury.score(...)`` and ``videojury.estimate(...)``.

This is the one pipeline: the ``score`` command parses its arguments, calls
these functions and renders what they return. Inputs are read
(:func:`load_inputs`), metrics built once (:func:`resolve_metrics`), the job
planned against the store (inputs of fusion metrics added), the pending work
run by an executor (local or Ray), derived metrics computed from stored
scores, and the results table read back from the store.
"""

from __future__ import annotations

import os
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from .data.items import Item, check_text_needs, load_items
from .data.items import load_inputs as _load_inputs
from .errors import InputError, MetricError
from .metrics.base import Metric, load_metric, parse_spec
from .run.executor import Plan, RunStats, duration_text, execute, get_executor, plan_job
from .run.results import results_table
from .run.store import Store


class MetricLoadWarning(RuntimeWarning):
    """A metric could not be loaded; its items were not computed (see ``RunStats.load_errors``)."""


Inputs = str | os.PathLike | Sequence[str | os.PathLike] | pd.DataFrame | Iterable[Item]


def resolve_metrics(metrics: str | Metric | Sequence[str | Metric],
                    batch_size: int | None = None) -> list[Metric]:
    """Metric objects from names, specs (``niqe:pool=median``) or objects, each built once.

    ``batch_size`` is given to every metric that takes a ``batch_size``
    option and whose spec does not set it (a runtime option: not part of the
    store key).
    """
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) < 1):
        raise InputError(f"batch size must be at least 1 (got {batch_size})")
    out: list[Metric] = []
    for m in metrics:
        if isinstance(m, Metric):
            out.append(m)
            continue
        metric = load_metric(m)
        if batch_size is not None and "batch_size" in metric.default_options \
                and "batch_size" not in parse_spec(m)[1]:
            # batch_size is a runtime option (left out of the key): set it on the
            # object rather than building the metric a second time.
            metric.options = {**metric.options, "batch_size": int(batch_size)}
            metric.batch_size = int(batch_size)
        out.append(metric)
    if not out:
        raise MetricError("no metric given; give at least one (-m/--metric, or --suite "
                          "seed-baselines, on the command line; see videojury.list_metrics())")
    # The label too: dtype=bfloat16 and the default share an options key (the
    # dtype is keyed by its resolved value) but are two metrics.
    labels = [(m.name, m.options_key, m.label) for m in out]
    if len(set(labels)) != len(labels):
        raise MetricError("the same metric with the same options is listed twice")
    return out


def load_inputs(videos: Inputs | Sequence[Inputs],
                prompts: str | os.PathLike | Sequence[str | None] | None = None,
                warn: Callable[[str], None] | None = None) -> list[Item]:
    """Items from one input or several (folders, manifests and video files mixed).

    A list of paths goes through :func:`videojury.data.items.load_inputs`
    (the command line's rules; duplicates dropped with one message to
    ``warn``), unless ``prompts`` is a list aligned with it; anything else
    through :func:`videojury.data.items.load_items`.
    """
    if isinstance(videos, (list, tuple)) and videos and all(
            isinstance(v, (str, os.PathLike)) for v in videos) and (
            prompts is None or isinstance(prompts, (str, os.PathLike))):
        return _load_inputs(list(videos), prompts, warn=warn or _warn)
    return load_items(videos, prompts)


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


def prepare(videos: Inputs | Sequence[Inputs], prompts=None,
            metrics: str | Metric | Sequence[str | Metric] = ("flicker",),
            batch_size: int | None = None, warn: Callable[[str], None] | None = None
            ) -> tuple[list[Item], list[Metric]]:
    """Read the inputs and build the metrics, checking that each item has the text a
    metric reads; everything here is checked before any video is decoded."""
    items = load_inputs(videos, prompts, warn)
    metric_objs = resolve_metrics(metrics, batch_size)
    for m in metric_objs:
        check_text_needs(items, m.name, m.needs_prompt, m.needs_question)
    return items, metric_objs


def _store(store: str | os.PathLike | Store | None):
    return nullcontext(store) if isinstance(store, Store) else Store(store)


def score(
    videos: Inputs | Sequence[Inputs],
    prompts: str | os.PathLike | Sequence[str | None] | None = None,
    metrics: str | Metric | Sequence[str | Metric] = ("flicker",),
    store: str | os.PathLike | Store | None = None,
    *,
    backend: str = "local",
    backend_options: dict[str, Any] | None = None,
    batch_size: int | None = None,
    retry_errors: bool = False,
    progress: Callable[[int], None] | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    warn: Callable[[str], None] | None = None,
    return_stats: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, RunStats]:
    """Score videos with one or more metrics; one row per video.

    ``videos``: a folder, a manifest (CSV/JSONL/Parquet), a path or a list of
    paths, several folders/manifests, or a DataFrame with a ``video`` column.
    ``prompts``: a prompts file for a folder, or a list aligned with a list of
    paths. ``metrics``: names, ``name:opt=value`` specs, or metric objects.
    ``store``: a SQLite path that keeps every result across runs (reruns
    compute only what is missing); ``None`` keeps results in memory for this
    call. ``batch_size``: items per model call for every metric that batches.
    ``on_plan(plan)`` is called once the job is planned, before any scoring;
    ``warn(message)`` gets notes about the inputs (default: ``warnings.warn``).

    A metric whose weights cannot be loaded is stopped for this run: its items
    are not computed (nothing is stored for them, so a rerun after the fix
    computes them), their ``error`` says why, and a warning is issued.

    Returns a DataFrame with the items' columns, one column per score field
    and an ``error`` column (``None`` where every metric succeeded).
    """
    items, metric_objs = prepare(videos, prompts, metrics, batch_size, warn)
    executor = get_executor(backend, **(backend_options or {}))
    with _store(store) as st:
        p = plan_job(items, metric_objs, st, retry_errors=retry_errors)
        if on_plan is not None:
            on_plan(p)
        stats = execute(p, st, executor, progress=progress)
        df = results_table(p.view(), st, not_computed=stats.load_errors)
    for label, msg in stats.load_errors.items():
        warnings.warn(f"metric {label} could not be loaded: {msg}; its items were not computed "
                      "(nothing stored), fix this and run again", MetricLoadWarning, stacklevel=2)
    return (df, stats) if return_stats else df


def run_plan(p: Plan, store: Store, backend: str = "local",
             backend_options: dict[str, Any] | None = None,
             progress: Callable[[int], None] | None = None) -> RunStats:
    """Run a plan's pending tasks with the chosen backend (derived metrics last)."""
    executor = get_executor(backend, **(backend_options or {}))
    return execute(p, store, executor, progress=progress)


@dataclass
class Estimate:
    """What a dry run found: the plan's counts and the time measured on a sample."""

    items: int
    metrics: int
    cached: int
    pending: int
    pending_videos: int
    sample: RunStats | None  # the sample's run (its results are kept in the store)
    remaining_videos: int
    seconds: float | None  # estimated time for the remaining videos (None: no sample)

    def summary(self) -> str:
        """The lines ``videojury score --dry-run`` prints."""
        s = self.sample
        if s is None or not s.videos:
            return f"{self.remaining_videos} videos to score"
        lines = [f"sample: {s.videos} videos in {s.seconds:.1f}s "
                 f"(setup {s.setup_seconds:.1f}s, then {s.seconds_per_video:.2f}s per video; "
                 f"decode {s.decode_seconds:.1f}s, preprocess "
                 f"{sum(s.preprocess_seconds.values()):.1f}s, model "
                 f"{sum(s.model_seconds.values()):.1f}s); results kept in the store"]
        for label, msg in s.load_errors.items():
            lines.append(f"metric {label} could not be loaded: {msg}")
        lines.append(f"estimated time for the remaining {self.remaining_videos} videos: "
                     f"{duration_text(self.seconds or 0.0)}")
        return "\n".join(lines)


def estimate(
    videos: Inputs | Sequence[Inputs],
    prompts: str | os.PathLike | Sequence[str | None] | None = None,
    metrics: str | Metric | Sequence[str | Metric] = ("flicker",),
    store: str | os.PathLike | Store | None = None,
    *,
    sample: int = 3,
    backend: str = "local",
    backend_options: dict[str, Any] | None = None,
    batch_size: int | None = None,
    retry_errors: bool = False,
    on_plan: Callable[[Plan], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Estimate:
    """Plan only, then score the first ``sample`` pending videos (kept in the store) and
    extrapolate to the rest. The real run pays the setup (model loads, workers) once."""
    if isinstance(sample, bool) or int(sample) < 0:
        raise InputError(f"the sample size must be 0 or more (got {sample})")
    items, metric_objs = prepare(videos, prompts, metrics, batch_size, warn)
    executor = get_executor(backend, **(backend_options or {}))
    with _store(store) as st:
        p = plan_job(items, metric_objs, st, retry_errors=retry_errors)
        if on_plan is not None:
            on_plan(p)
        remaining = p.pending_videos
        stats = None
        if remaining and sample > 0:
            stats = execute(p.first_videos(int(sample)), st, executor)
    left = remaining - (stats.videos if stats else 0)
    seconds = None if stats is None else stats.setup_seconds + stats.seconds_per_video * left
    view = p.view()
    return Estimate(len(items), len(view.metrics), len(view.cached), len(view.pending),
                    remaining, stats, left, seconds)


__all__ = ["Estimate", "MetricLoadWarning", "estimate", "load_inputs", "prepare",
           "resolve_metrics", "run_plan", "score"]
