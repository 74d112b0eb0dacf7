"""Fitting fusion models: from stored metric scores and human MOS, on the CPU.

Given a table with one column per metric field and the human MOS of each
video, :func:`fit_fusion` compares, by k-fold cross-validation grouped by
prompt (a prompt's videos are never split between training and test
folds):

* ridge regression on standardised scores (the penalty chosen by
  efficient leave-one-out inside each training fold),
* gradient boosting (scikit-learn's ``GradientBoostingRegressor``, depth-3
  trees, deterministic), and
* every single metric alone (a 1-D linear fit per fold, so its sign is
  learnt on the training folds like the fusion's weights).

The score of each is the mean over test folds of the SRCC between
out-of-fold predictions and MOS (PLCC and KRCC of the pooled out-of-fold
predictions are reported too). The chosen model (``auto``: the better
fusion model by CV SRCC) is refitted on all rows and returned as a
:class:`~videojury.train.fusion.FusionModel`.

Which columns are inputs, and which metric computes each, comes from the
table's field metadata (:mod:`videojury.io`) when it has some; for a
foreign table, from the registry (a column that exactly one registered
metric declares) or ``--input COLUMN=METRIC``. MOS labels are joined with
the project's one video matcher (:mod:`videojury.matching`).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError, MetricError
from ..io import attach_fields, has_fields, score_columns, table_fields
from ..matching import matched_index
from .fusion import FusionInput, FusionModel, GBMModel, RidgeModel, Tree, check_name

__all__ = [
    "FitReport", "GBM_PARAMS", "attach_mos", "discover_inputs", "fit_fusion", "fit_gbm",
    "fit_ridge", "group_keys", "store_table",
]

_LABELLED = re.compile(r"^(?P<field>[^\[\]]+)\[(?P<label>.+)\]$")


# --- the two model kinds ------------------------------------------------------------

def fit_ridge(X: np.ndarray, y: np.ndarray) -> RidgeModel:
    """Ridge on standardised inputs, penalty by leave-one-out over a log grid."""
    from sklearn.linear_model import RidgeCV

    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    r = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit((X - mean) / scale, y)
    return RidgeModel(mean.tolist(), scale.tolist(), np.ravel(r.coef_).tolist(),
                      float(r.intercept_), float(r.alpha_))


GBM_PARAMS = {"n_estimators": 200, "learning_rate": 0.05, "max_depth": 3,
              "min_samples_leaf": 3, "subsample": 1.0}


def fit_gbm(X: np.ndarray, y: np.ndarray, seed: int = 0) -> GBMModel:
    """Gradient boosting (squared error, depth-3 trees), converted to node arrays."""
    from sklearn.ensemble import GradientBoostingRegressor

    g = GradientBoostingRegressor(random_state=seed, **GBM_PARAMS).fit(
        np.asarray(X, dtype=np.float64), y)
    init = float(np.ravel(g.init_.predict(np.zeros((1, X.shape[1]))))[0])
    trees = []
    for est in g.estimators_[:, 0]:
        t = est.tree_
        trees.append(Tree(t.children_left.tolist(), t.children_right.tolist(),
                          t.feature.tolist(), t.threshold.tolist(),
                          t.value[:, 0, 0].tolist()))
    return GBMModel(init, float(g.learning_rate), trees, dict(GBM_PARAMS))


def _fit(kind: str, X: np.ndarray, y: np.ndarray, seed: int):
    return fit_ridge(X, y) if kind == "ridge" else fit_gbm(X, y, seed)


# --- inputs from tables and stores -------------------------------------------------

def _field_owners() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Field name -> registered metrics that declare it; metric -> its fields."""
    from ..metrics.base import list_metrics, metric_class

    owners: dict[str, list[str]] = {}
    fields: dict[str, list[str]] = {}
    for name in list_metrics():
        for f in metric_class(name).fields:
            owners.setdefault(f.name, []).append(name)
            fields.setdefault(name, []).append(f.name)
    return owners, fields


def discover_inputs(df: pd.DataFrame, features: Sequence[str] | None = None,
                    specs: dict[str, str] | None = None,
                    exclude: Sequence[str] = ()) -> list[FusionInput]:
    """The input columns of a scores table and the metric each comes from.

    ``features`` names the columns (default: the table's score columns,
    :func:`videojury.io.score_columns`). A column's metric spec and field
    come from, in order: ``specs`` (``--input COLUMN=METRIC``); the table's
    field metadata (the label the metric ran with and its field); a column
    named ``field[label]``; a column that exactly one registered metric
    declares (for a foreign table, only when every field that metric
    declares is a column, so manifest columns such as ``level`` are never
    used by accident).
    """
    meta = table_fields(df)
    owners, declared = _field_owners()
    specs = dict(specs or {})
    out: list[FusionInput] = []
    candidates = list(features) if features else [c for c in score_columns(df)
                                                  if c not in set(exclude)]
    for col in candidates:
        if col not in df.columns:
            raise InputError(f"no column {col!r} in the scores table (columns: "
                             f"{', '.join(map(str, df.columns))})")
        vals = pd.to_numeric(df[col], errors="coerce")
        if vals.notna().sum() == 0:
            if features:
                raise InputError(f"column {col!r} holds no numbers")
            continue
        m = _LABELLED.match(str(col))
        f = meta.get(col)
        if col in specs:
            spec, fld = specs[col], (f.field if f is not None and f.field else
                                     m.group("field") if m else str(col))
        elif f is not None and f.metric and f.field:
            spec, fld = f.metric, f.field
        elif m:
            spec, fld = m.group("label"), m.group("field")
        elif len(owners.get(str(col), [])) == 1 and (features or has_fields(df) or all(
                c in df.columns for c in declared[owners[str(col)][0]])):
            spec, fld = owners[str(col)][0], str(col)
        else:
            if not features:
                continue  # not a metric field: a label or a manifest column
            spec, fld = "", str(col)
        out.append(FusionInput(str(col), spec, fld))
    if not out:
        raise InputError("no metric score columns found in the table; pass --features (and "
                         "--input COLUMN=METRIC for columns the registry does not know)")
    return out


def store_table(store_path: str | os.PathLike, metrics: Sequence[str] | None = None
                ) -> pd.DataFrame:
    """A wide table (one row per video path, one column per metric field) from a store.

    Columns are named like ``videojury score`` names them: the field, or
    ``field[label]`` when two metrics (or option sets) share a field name,
    and carry their field metadata. The latest result wins where a video
    was scored more than once.
    """
    from ..metrics.base import ResultField, load_metric
    from ..run.store import Store

    p = Path(store_path)
    if not p.is_file():
        raise InputError(f"{p}: no such store")
    with Store(p) as st:
        long = st.to_frame()
    long = long[long["status"] == "ok"]
    if metrics:
        long = long[long["metric"].isin(list(metrics))]
    if long.empty:
        raise InputError(f"{p}: no successful results" + (f" for {list(metrics)}" if metrics
                                                           else ""))
    built: dict[tuple[str, str], Any] = {}
    for metric, options in long[["metric", "options"]].drop_duplicates().itertuples(index=False):
        try:
            built[(metric, options)] = load_metric(metric, **json.loads(options))
        except Exception:  # noqa: BLE001 - a metric no longer installed keeps its raw name
            built[(metric, options)] = None
    labels = {k: (m.label if m is not None else k[0]) for k, m in built.items()}
    long = long.assign(label=[labels[(m, o)] for m, o in zip(long["metric"], long["options"])])
    per_field = long.groupby("field")["label"].nunique()
    long = long.assign(column=[f if per_field[f] == 1 else f"{f}[{lab}]"
                               for f, lab in zip(long["field"], long["label"])])
    wide = long.pivot_table(index="video", columns="column", values="value", aggfunc="last")
    wide.columns.name = None
    wide = wide.reset_index()
    fields = []
    for (metric, options, fld, col) in long[["metric", "options", "field", "column"]] \
            .drop_duplicates().itertuples(index=False):
        m = built[(metric, options)]
        sf = next((f for f in m.fields if f.name == fld), None) if m is not None else None
        fields.append(ResultField.of(m, sf, col) if sf is not None else
                      ResultField(col, labels[(metric, options)], None, name=metric,
                                  options=options, field=fld))
    return attach_fields(wide, fields)


def attach_mos(scores: pd.DataFrame, labels: pd.DataFrame, base_dir: Path | None = None
               ) -> pd.DataFrame:
    """Join human labels (``video, mos[, prompt_id, prompt, model]``) onto a scores table.

    Videos are matched by :func:`videojury.matching.match_videos` (the exact
    path, then the longest unambiguous path suffix, then the file name). A
    relative label path is first taken relative to ``base_dir`` (the labels
    file's folder). Rows without a label are dropped; the number matched is
    in ``attrs['matched']``; the scores' field metadata is kept.
    """
    lab = labels.reset_index(drop=True).copy()
    label_videos = [str(v) for v in lab["video"]]
    if base_dir is not None:
        label_videos = [v if Path(v).is_absolute() else os.path.normpath(str(base_dir / v))
                        for v in label_videos]
    idx = matched_index([str(v) for v in scores["video"]], label_videos)
    keep = [j for j, i in enumerate(idx) if i is not None]
    out = scores.iloc[keep].reset_index(drop=True).copy()
    matched = lab.iloc[[idx[j] for j in keep]].reset_index(drop=True)
    out["mos"] = matched["mos"].astype(float).to_numpy()
    for col in ("prompt_id", "prompt", "model"):
        if col in matched.columns and (col not in out.columns or out[col].isna().all()):
            out[col] = matched[col].to_numpy()
    attach_fields(out, table_fields(scores).values())
    out.attrs["matched"] = len(out)
    return out


def group_keys(df: pd.DataFrame, by: str = "prompt") -> np.ndarray:
    """Group of each row for the folds: prompt id, else prompt text, else video."""
    if by == "none":
        return np.arange(len(df)).astype(str)
    cols = {"prompt": ["prompt_id", "prompt"], "prompt_id": ["prompt_id", "prompt"],
            "model": ["model"], "video": ["video"]}.get(by)
    if cols is None:
        raise InputError(f"--group-by must be prompt, model, video or none, got {by!r}")
    for c in cols:
        if c in df.columns and df[c].notna().all():
            return df[c].astype(str).to_numpy()
    if by == "model":
        raise InputError("grouping by model needs a 'model' column for every row")
    return df["video"].astype(str).to_numpy()


# --- fitting and cross-validation ----------------------------------------------------

def _scores(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from ..stats.correlation import krcc, plcc, srcc

    if len(y) < 3 or np.all(pred == pred[0]) or np.all(y == y[0]):
        return {"srcc": float("nan"), "plcc": float("nan"), "krcc": float("nan")}
    return {"srcc": srcc(pred, y), "plcc": plcc(pred, y), "krcc": krcc(pred, y)}


def _folds(groups: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold

    n_groups = len(set(groups.tolist()))
    if n_groups < 2:
        raise InputError("cross-validation needs at least 2 groups (prompts); got 1")
    k = max(2, min(int(k), n_groups))
    dummy = np.zeros(len(groups))
    return list(GroupKFold(n_splits=k).split(dummy, groups=groups))


def _cv(fit_predict, X: np.ndarray, y: np.ndarray, folds) -> dict[str, Any]:
    """Out-of-fold predictions and per-fold / pooled agreement."""
    oof = np.full(len(y), np.nan)
    per_fold = []
    for tr, te in folds:
        oof[te] = fit_predict(X[tr], y[tr], X[te])
        per_fold.append(_scores(oof[te], y[te])["srcc"])
    pooled = _scores(oof, y)
    vals = np.array([v for v in per_fold if not math.isnan(v)])
    return {"cv_srcc": float(vals.mean()) if len(vals) else float("nan"),
            "cv_srcc_sd": float(vals.std(ddof=1)) if len(vals) > 1 else float("nan"),
            "fold_srcc": per_fold, "pooled_srcc": pooled["srcc"], "pooled_plcc": pooled["plcc"],
            "pooled_krcc": pooled["krcc"], "oof": oof}


@dataclass
class FitReport:
    """Cross-validated comparison of the fusion models and every single input."""

    rows: list[dict[str, Any]]
    chosen: str
    best_single: dict[str, Any]
    n: int
    n_groups: int
    folds: int
    dropped: int
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        cols = ["model", "kind", "direction", "cv_srcc", "cv_srcc_sd", "pooled_srcc",
                "pooled_plcc", "pooled_krcc"]
        return pd.DataFrame([{c: r.get(c) for c in cols} for r in self.rows], columns=cols)

    def chosen_row(self) -> dict[str, Any]:
        return next(r for r in self.rows if r["model"] == self.chosen)

    def to_json(self) -> dict[str, Any]:
        return {"rows": [{k: v for k, v in r.items() if k != "oof"} for r in self.rows],
                "chosen": self.chosen, "best_single": {k: v for k, v in
                                                       self.best_single.items() if k != "oof"},
                "n": self.n, "n_groups": self.n_groups, "folds": self.folds,
                "dropped": self.dropped, "notes": list(self.notes)}


def fit_fusion(df: pd.DataFrame, *, mos: str = "mos", inputs: Sequence[FusionInput] | None = None,
               group_by: str = "prompt", model: str = "auto", folds: int = 5, seed: int = 0,
               name: str = "fusion") -> tuple[FusionModel, FitReport]:
    """Cross-validate ridge, gradient boosting and each single input; refit the chosen model.

    ``df`` holds one row per video with the input columns and ``mos``.
    Rows missing any input or the MOS are dropped (counted in the report).
    ``model``: ``ridge``, ``gbm`` or ``auto`` (the better by CV SRCC).
    """
    if model not in ("ridge", "gbm", "auto"):
        raise InputError(f"model must be ridge, gbm or auto, got {model!r}")
    try:
        check_name(str(name), "name")
    except MetricError as exc:
        raise InputError(str(exc)) from None
    if mos not in df.columns:
        raise InputError(f"no MOS column {mos!r} in the table")
    inputs = list(inputs) if inputs is not None else discover_inputs(df, exclude=[mos])
    cols = [i.column for i in inputs]
    data = df.copy()
    for c in cols + [mos]:
        data[c] = pd.to_numeric(data[c], errors="coerce")
    ok = data[cols + [mos]].notna().all(axis=1) & np.isfinite(
        data[cols + [mos]].to_numpy(dtype=np.float64)).all(axis=1)
    dropped = int((~ok).sum())
    data = data[ok].reset_index(drop=True)
    if len(data) < 6:
        raise InputError(f"only {len(data)} rows have every input and a MOS; need at least 6")
    X = data[cols].to_numpy(dtype=np.float64)
    y = data[mos].to_numpy(dtype=np.float64)
    groups = group_keys(data, group_by)
    fl = _folds(groups, folds)
    rows = []
    for kind in ("ridge", "gbm"):
        res = _cv(lambda a, b, c, k=kind: _fit(k, a, b, seed).predict(c), X, y, fl)
        rows.append({"model": kind, "kind": "fusion", "direction": "higher", **res})
    meta = table_fields(df)
    notes = []
    for j, inp in enumerate(inputs):
        res = _cv(lambda a, b, c, j=j: fit_ridge(a[:, [j]], b).predict(c[:, [j]]), X, y, fl)
        # The fit learns each input's sign; the metadata says which way it should point.
        f = meta.get(inp.column)
        declared = f.direction if f is not None else None
        rho = _scores(X[:, j], y)["srcc"]
        if declared is not None and not math.isnan(rho) and abs(rho) >= 0.1 and \
                (rho > 0) != (declared == "higher"):
            notes.append(f"{inp.column} is {declared}-is-better but rises "
                         f"{'with' if rho > 0 else 'against'} the MOS here (SRCC {rho:+.3f} over "
                         "all rows): check the labels, or the metric suits these videos badly")
        rows.append({"model": inp.column, "kind": "single", "direction": declared or "", **res})

    def key(r: dict[str, Any]) -> float:
        v = r["cv_srcc"]
        return -math.inf if v is None or math.isnan(v) else v

    singles = [r for r in rows if r["kind"] == "single"]
    best_single = max(singles, key=key)
    chosen = model if model != "auto" else max(rows[:2], key=key)["model"]
    rows.sort(key=lambda r: (r["kind"] != "fusion", -key(r)))
    report = FitReport(rows, chosen, best_single, len(y), len(set(groups.tolist())), len(fl),
                       dropped, notes)
    final = FusionModel(name, chosen, inputs, _fit(chosen, X, y, seed), report.to_json())
    return final, report
