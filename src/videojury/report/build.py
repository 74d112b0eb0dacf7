"""What goes into a report, gathered from a benchmark result.

:func:`report_data` collects the leaderboard, the models x dimensions
matrices, each model's normalised profile and its best and worst videos
(with thumbnail strips) into a :class:`ReportData`; the HTML and Markdown
renderers only lay that out. :func:`write_report` does both in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from ..bench.aggregate import ACCURACY, FieldInfo, combined_score, dimension_matrix, normalise

if TYPE_CHECKING:  # pragma: no cover - avoids importing the runner at import time
    from ..bench.runner import BenchResult


@dataclass
class Example:
    """One video shown in the report, with what it scored."""

    model: str
    kind: str  # "best" or "worst"
    video: str
    rel: str
    prompt_id: str
    prompt: str
    combined: float
    scores: dict[str, float]
    strip: bytes | None = None  # JPEG
    error: str | None = None


@dataclass
class ReportData:
    """Everything a report shows; built by :func:`report_data` (or by hand, as the
    tests do for a 30 x 20 table)."""

    title: str
    leaderboard: pd.DataFrame
    fields: list[FieldInfo]
    name_col: str = "model"
    intervals: pd.DataFrame | None = None
    dimension_matrix: pd.DataFrame | None = None
    field_matrices: dict[str, pd.DataFrame] = field(default_factory=dict)
    profile: pd.DataFrame | None = None
    examples: dict[str, list[Example]] = field(default_factory=dict)
    facts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)  # filled by :func:`figures`

    @property
    def field_by_column(self) -> dict[str, FieldInfo]:
        return {f.column: f for f in self.fields}


def field_title(f: FieldInfo) -> str:
    """Display name of a field (``task accuracy`` for the accuracy column)."""
    return "task accuracy" if f.column == ACCURACY else f.column


def figures(data: ReportData) -> dict[str, bytes]:
    """Render (once) and return the report's PNG figures: ``dimensions`` (the combined
    heatmap), ``bars`` and ``profiles``. The per-field matrices are drawn as HTML heat
    tables instead (exact values on hover, and no second of drawing per field)."""
    if data.figures:
        return data.figures
    from . import plots  # noqa: PLC0415

    figs: dict[str, bytes] = {}
    if data.dimension_matrix is not None and data.dimension_matrix.size:
        figs["dimensions"] = plots.heatmap(
            data.dimension_matrix, "All metrics combined per task dimension (1 = best cell, "
            "0 = worst)", vmin=0.0, vmax=1.0, cbar_label="combined normalised score")
    board = data.leaderboard
    bar_fields = [(f.column, f.higher_is_better, field_title(f)) for f in data.fields
                  if f.column in board.columns]
    if bar_fields:
        figs["bars"] = plots.field_bars(board, bar_fields, data.name_col)
    if data.profile is not None and data.profile.shape[1] >= 1 and len(data.profile):
        ranks = dict(zip(board[data.name_col].astype(str), board["overall_rank"]))
        prof = data.profile.rename(index=lambda m: f"#{ranks[m]} {m}" if m in ranks else m)
        figs["profiles"] = plots.profiles(prof)
    data.figures = figs
    return figs


def profile_matrix(per_model: pd.DataFrame, fields: list[FieldInfo], name_col: str = "model"
                   ) -> pd.DataFrame:
    """Models x fields, each field min-max normalised over the models (1 = best)."""
    cols = {f.column: normalise(per_model[f.column].to_numpy(dtype=float), f.higher_is_better)
            for f in fields if f.column in per_model.columns}
    return pd.DataFrame(cols, index=per_model[name_col].astype(str).to_numpy())


def pick_examples(scores: pd.DataFrame, fields: list[FieldInfo], k: int = 3,
                  thumbs: bool = True, frames: int = 5, height: int = 72,
                  strip_fn: Callable[..., bytes | None] | None = None) -> dict[str, list[Example]]:
    """Each model's ``k`` best and ``k`` worst videos by the combined normalised score.

    Failed videos are shown among the worst (they have no score); a model
    with fewer than ``2k`` videos shows each once.
    """
    if strip_fn is None:
        from .thumbs import thumbnail_strip as strip_fn  # noqa: PLC0415
    t = scores.copy()
    t["_combined"] = combined_score(t, fields)
    out: dict[str, list[Example]] = {}
    for model, grp in t.groupby("model", sort=False):
        ok = grp[np.isfinite(grp["_combined"].to_numpy(dtype=float))]
        ok = ok.sort_values("_combined", ascending=False, kind="mergesort")
        failed = grp[~np.isfinite(grp["_combined"].to_numpy(dtype=float))]
        best = ok.head(k)
        rest = ok.iloc[len(best):].iloc[::-1]  # worst first
        worst = pd.concat([failed, rest]).head(k)
        exs = []
        for kind, rows in (("best", best), ("worst", worst)):
            for rec in rows.to_dict("records"):
                strip = strip_fn(rec["video"], n=frames, height=height) if thumbs else None
                err = rec.get("error")
                exs.append(Example(
                    str(model), kind, str(rec["video"]), str(rec.get("rel") or rec["video"]),
                    str(rec.get("prompt_id") or ""), str(rec.get("prompt") or ""),
                    float(rec["_combined"]),
                    {f.column: float(rec[f.column]) for f in fields if f.column in rec},
                    strip, None if err is None or (isinstance(err, float) and err != err)
                    else str(err)))
        out[str(model)] = exs
    return out


def report_data(result: BenchResult, *, title: str | None = None, examples: int = 3,
                thumbs: bool = True, frames: int = 5, height: int = 72) -> ReportData:
    """Gather a :class:`~videojury.bench.runner.BenchResult` into a :class:`ReportData`."""
    models = result.models
    order = [str(m) for m in result.leaderboard["model"]]
    ranked = result.rank_fields
    dims = [d for d in result.suite.dimensions]
    long = result.per_dimension
    mat = None
    field_mats: dict[str, pd.DataFrame] = {}
    if len(long) and long["dimension"].nunique() >= 1:
        mat = dimension_matrix(long, ranked, None, order, dims)
        for f in ranked:
            if (long["field"] == f.column).any():
                field_mats[f.column] = dimension_matrix(long, ranked, f.column, order, dims)
    per_model = result.per_model.set_index("model").reindex(order).reset_index()
    prof = profile_matrix(per_model, ranked)
    ex = pick_examples(result.scores, result.fields, examples, thumbs, frames, height) \
        if examples > 0 and result.fields else {}
    n_videos = len(result.scores)
    facts = [
        ("Suite", f"{result.suite.name} ({len(result.suite)} prompts, "
                  f"{len(result.suite.dimensions)} dimensions, {result.suite.n_questions} "
                  "questions)"),
        ("Models", str(len(models))),
        ("Videos", f"{n_videos} scored, {result.n_failed} with errors"),
        ("Metrics", ", ".join(result.metrics) or "none"),
    ]
    if result.accuracy_source:
        facts.append(("Task accuracy from", "human answers" if result.accuracy_source == "human"
                      else f"metric {result.accuracy_source}"))
    if result.intervals is not None:
        a = result.intervals.attrs
        facts.append(("Rank intervals", f"{int(a.get('confidence', 0.95) * 100)}% bootstrap over "
                      f"prompts, {a.get('n_boot', '?')} replicates, seed {a.get('seed', '?')}"))
    return ReportData(title or f"Benchmark: {result.suite.name}", result.leaderboard, ranked,
                      "model", result.intervals, mat, field_mats, prof, ex, facts,
                      list(result.problems))


__all__ = ["ACCURACY", "Example", "ReportData", "field_title", "figures", "pick_examples",
           "profile_matrix", "report_data"]
