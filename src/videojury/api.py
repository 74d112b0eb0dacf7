"""The one-call Python API: ``videojury.score(...)``."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from .data.items import Item, check_text_needs, load_items
from .errors import MetricError
from .metrics.base import Metric, load_metric
from .run.executor import Plan, RunStats, get_executor, plan
from .run.results import results_table
from .run.store import Store


def resolve_metrics(metrics: str | Metric | Sequence[str | Metric]) -> list[Metric]:
    """Metric objects from names, specs (``niqe:pool=median``) or objects."""
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    out: list[Metric] = []
    for m in metrics:
        out.append(m if isinstance(m, Metric) else load_metric(m))
    if not out:
        raise MetricError("no metric given; pass at least one (see videojury.list_metrics())")
    labels = [(m.name, m.options_key) for m in out]
    if len(set(labels)) != len(labels):
        raise MetricError("the same metric with the same options is listed twice")
    return out


def score(
    videos: str | os.PathLike | Sequence[str | os.PathLike] | pd.DataFrame | Iterable[Item],
    prompts: str | os.PathLike | Sequence[str | None] | None = None,
    metrics: str | Metric | Sequence[str | Metric] = ("flicker",),
    store: str | os.PathLike | Store | None = None,
    *,
    backend: str = "local",
    backend_options: dict[str, Any] | None = None,
    retry_errors: bool = False,
    progress: Callable[[int], None] | None = None,
    return_stats: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, RunStats]:
    """Score videos with one or more metrics; one row per video.

    ``videos``: a folder, a manifest (CSV/JSONL/Parquet), a path or a list of
    paths, or a DataFrame with a ``video`` column. ``prompts``: a prompts
    file for a folder, or a list aligned with a list of paths. ``metrics``:
    names, ``name:opt=value`` specs, or metric objects. ``store``: a SQLite
    path that keeps every result across runs (reruns compute only what is
    missing); ``None`` keeps results in memory for this call.

    Returns a DataFrame with the items' columns, one column per score field
    and an ``error`` column (``None`` where every metric succeeded).
    """
    items = load_items(videos, prompts)
    metric_objs = resolve_metrics(metrics)
    for m in metric_objs:
        check_text_needs(items, m.name, m.needs_prompt, m.needs_question)
    own = not isinstance(store, Store)
    st = Store(store) if own else store  # type: ignore[arg-type]
    try:
        p = plan(items, metric_objs, st, retry_errors=retry_errors)
        stats = run_plan(p, st, backend=backend, backend_options=backend_options,
                         progress=progress)
        df = results_table(p, st)
    finally:
        if own:
            st.close()
    return (df, stats) if return_stats else df


def run_plan(p: Plan, store: Store, backend: str = "local",
             backend_options: dict[str, Any] | None = None,
             progress: Callable[[int], None] | None = None) -> RunStats:
    """Run a plan's pending tasks with the chosen backend."""
    executor = get_executor(backend, **(backend_options or {}))
    return executor.run(p, store, progress=progress)
