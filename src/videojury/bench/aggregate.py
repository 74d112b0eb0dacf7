"""Per-model aggregates of a benchmark: means, task dimensions, task accuracy.

Pure functions on the per-video scores table (one row per video: ``model``,
``prompt_id``, ``dimension`` with ``|`` between several, one column per
score field, ``error``) and the per-question table (``model``,
``prompt_id``, ``dimension``, ``question``, ``expected``, ``answer``).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..text import normalize_yes_no
from ..metrics.base import Metric, ResultField

ACCURACY = "task_accuracy"


# A column of the scores table and what it means: the one field type, with the
# metric's label (``metric``), direction, range and description.
FieldInfo = ResultField


def fields_of(metrics: Sequence[Metric]) -> list[ResultField]:
    """The score columns the metrics produce, named as ``videojury.score`` names them."""
    from ..run.results import result_fields  # noqa: PLC0415

    return result_fields(list(metrics))


def accuracy_field() -> ResultField:
    """The task-accuracy column, as a field (share in [0, 1], higher is better)."""
    return ResultField(ACCURACY, "qa", True, 0.0, 1.0,
                       "share of questions answered as a faithful video should", field=ACCURACY)


def _split_dims(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [d for d in str(value).split("|") if d]


def model_means(scores: pd.DataFrame, fields: Sequence[FieldInfo], models: Sequence[str] | None
                = None) -> pd.DataFrame:
    """One row per model: ``n_videos``, ``n_failed`` (videos with an error) and the mean
    of each field over its videos (failed values are left out of the mean)."""
    cols = [f.column for f in fields]
    g = scores.groupby("model", sort=False)
    out = g[cols].mean()
    out.insert(0, "n_failed", g["error"].apply(lambda s: int(s.notna().sum())))
    out.insert(0, "n_videos", g.size())
    if models is not None:
        out = out.reindex([m for m in models if m in out.index])
    return out.reset_index()


def explode_dimensions(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (row, dimension): a video of a prompt in two dimensions counts in both."""
    t = df.copy()
    t["dimension"] = [_split_dims(v) or ["(none)"] for v in t.get("dimension",
                                                                  [None] * len(t))]
    return t.explode("dimension")


def dimension_means(scores: pd.DataFrame, fields: Sequence[FieldInfo]) -> pd.DataFrame:
    """Long table ``model, dimension, field, value, n``: each field's mean per model and
    task dimension."""
    cols = [f.column for f in fields]
    ex = explode_dimensions(scores)
    rows = []
    for (model, dim), grp in ex.groupby(["model", "dimension"], sort=False):
        for c in cols:
            v = grp[c].to_numpy(dtype=float)
            ok = np.isfinite(v)
            rows.append({"model": model, "dimension": dim, "field": c,
                         "value": float(v[ok].mean()) if ok.any() else np.nan,
                         "n": int(ok.sum())})
    return pd.DataFrame(rows, columns=["model", "dimension", "field", "value", "n"])


def judge_answers(qa: pd.DataFrame) -> pd.DataFrame:
    """Add ``predicted`` (normalised yes/no or None) and ``correct`` (bool) to a QA table."""
    t = qa.copy()
    t["predicted"] = [normalize_yes_no(a) if a is not None and not (
        isinstance(a, float) and math.isnan(a)) else None for a in t["answer"]]
    t["correct"] = [p is not None and p == e for p, e in zip(t["predicted"], t["expected"])]
    return t


def task_accuracy(qa: pd.DataFrame, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Per model: ``n_questions``, ``n_correct``, ``n_unparsed`` and ``task_accuracy``.

    An answer that cannot be read as yes or no counts as wrong (it is in
    ``n_unparsed``, never silently dropped).
    """
    t = judge_answers(qa) if "correct" not in qa.columns else qa
    g = t.groupby("model", sort=False)
    out = pd.DataFrame({
        "n_questions": g.size(),
        "n_correct": g["correct"].sum().astype(int),
        "n_unparsed": g["predicted"].apply(lambda s: int(s.isna().sum())),
    })
    out[ACCURACY] = out["n_correct"] / out["n_questions"]
    if models is not None:
        out = out.reindex([m for m in models if m in out.index])
    return out.reset_index()


def accuracy_by_dimension(qa: pd.DataFrame) -> pd.DataFrame:
    """Long table ``model, dimension, field, value, n`` of task accuracy per dimension."""
    t = judge_answers(qa) if "correct" not in qa.columns else qa
    ex = explode_dimensions(t)
    rows = []
    for (model, dim), grp in ex.groupby(["model", "dimension"], sort=False):
        rows.append({"model": model, "dimension": dim, "field": ACCURACY,
                     "value": float(grp["correct"].mean()), "n": int(len(grp))})
    return pd.DataFrame(rows, columns=["model", "dimension", "field", "value", "n"])


def normalise(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Min-max map to [0, 1] over the finite values, 1 = best (0.5 when all are equal)."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if not ok.any():
        return np.full_like(v, np.nan)
    lo, hi = v[ok].min(), v[ok].max()
    x = np.full_like(v, 0.5) if hi == lo else (v - lo) / (hi - lo)
    return x if higher_is_better else 1.0 - x


def combined_score(df: pd.DataFrame, fields: Iterable[FieldInfo]) -> np.ndarray:
    """Mean over fields of each row's direction-aware normalised value (1 = best row).

    Used to pick each model's best and worst videos and to colour the
    dimension heatmap on one scale whatever the metrics' units.
    """
    fields = [f for f in fields if f.column in df.columns]
    if not fields:
        return np.full(len(df), np.nan)
    mat = np.column_stack([normalise(df[f.column].to_numpy(dtype=float), f.higher_is_better)
                           for f in fields])
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(mat).sum(axis=1)
        return np.where(counts > 0, np.nansum(mat, axis=1) / np.maximum(counts, 1), np.nan)


def dimension_matrix(long: pd.DataFrame, fields: Sequence[FieldInfo], field: str | None = None,
                     models: Sequence[str] | None = None, dimensions: Sequence[str] | None = None
                     ) -> pd.DataFrame:
    """Models x dimensions: one field's means, or (``field=None``) the combined score
    of every field, each normalised over all (model, dimension) cells."""
    if len(long) == 0:
        return pd.DataFrame()
    if field is not None:
        mat = long[long["field"] == field].pivot(index="model", columns="dimension",
                                                 values="value")
    else:
        wide = long.pivot_table(index=["model", "dimension"], columns="field", values="value",
                                sort=False)
        wide = wide.reset_index()
        wide["combined"] = combined_score(wide, fields)
        mat = wide.pivot(index="model", columns="dimension", values="combined")
    if models is not None:
        mat = mat.reindex([m for m in models if m in mat.index])
    if dimensions is not None:
        mat = mat.reindex(columns=[d for d in dimensions if d in mat.columns] +
                          [d for d in mat.columns if d not in dimensions])
    return mat


def per_prompt(scores: pd.DataFrame, fields: Sequence[FieldInfo],
               qa: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long table ``model, prompt_id, <fields>[, task_accuracy]``: means per (model, prompt),
    the unit the bootstrap resamples."""
    cols = [f.column for f in fields]
    t = scores.groupby(["model", "prompt_id"], sort=False)[cols].mean()
    if qa is not None and len(qa):
        j = judge_answers(qa) if "correct" not in qa.columns else qa
        acc = j.groupby(["model", "prompt_id"], sort=False)["correct"].mean().rename(ACCURACY)
        t = t.join(acc, how="outer")
    return t.reset_index()


__all__ = [
    "ACCURACY", "FieldInfo", "accuracy_by_dimension", "accuracy_field", "combined_score",
    "dimension_matrix", "dimension_means", "explode_dimensions", "fields_of", "judge_answers",
    "model_means", "normalise", "per_prompt", "task_accuracy",
]
