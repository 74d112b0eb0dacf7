"""Fusion evaluators: a small model from stored metric scores to human MOS, on the CPU.

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
fusion model by CV SRCC) is refitted on all rows and saved as
``fusion.json``: plain numbers - means, scales and coefficients for ridge;
the initial value, learning rate and each tree's node arrays for gradient
boosting - and never a pickle. Predicting from the JSON reproduces
scikit-learn's predictions (trees compare float32 features, as sklearn's
do).

As a metric (``trained:DIR``) a fusion model computes its input metrics
itself from each video, with the exact metric specs (name and options) it
was fitted on, so its scores never depend on what happens to be in a
store; :meth:`FusionModel.predict_frame` applies it to a table of scores
already computed.
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

FORMAT = "videojury-fusion"
FORMAT_VERSION = 1
FILE = "fusion.json"
# Item columns that are never scores.
_NOT_SCORES = {"video", "prompt", "prompt_id", "model", "dimension", "question", "answer",
               "error", "mos", "video_hash", "text", "status"}
_LABELLED = re.compile(r"^(?P<field>[^\[\]]+)\[(?P<label>.+)\]$")


@dataclass(frozen=True)
class FusionInput:
    """One input column: the metric spec that computes it and the field it reads."""

    column: str
    metric: str
    field: str


# --- the two model kinds ---------------------------------------------------------

@dataclass
class RidgeModel:
    """y = ((x - mean) / scale) . coef + intercept."""

    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    alpha: float

    def predict(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return Z @ np.asarray(self.coef) + float(self.intercept)

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "scale": self.scale, "coef": self.coef,
                "intercept": self.intercept, "alpha": self.alpha}


@dataclass
class Tree:
    """One regression tree as node arrays (``left == -1`` marks a leaf)."""

    left: list[int]
    right: list[int]
    feature: list[int]
    threshold: list[float]
    value: list[float]

    def predict(self, X32: np.ndarray) -> np.ndarray:
        left, right = np.asarray(self.left), np.asarray(self.right)
        feat, thr = np.asarray(self.feature), np.asarray(self.threshold)
        value = np.asarray(self.value)
        rows = np.arange(X32.shape[0])
        node = np.zeros(X32.shape[0], dtype=np.int64)
        while True:
            leaf = left[node] == -1
            if leaf.all():
                return value[node]
            f = np.where(leaf, 0, feat[node])
            go_left = X32[rows, f].astype(np.float64) <= thr[node]
            node = np.where(leaf, node, np.where(go_left, left[node], right[node]))


@dataclass
class GBMModel:
    """y = init + learning_rate * sum of the trees' outputs."""

    init: float
    learning_rate: float
    trees: list[Tree]
    params: dict[str, Any] = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> np.ndarray:
        # sklearn's trees read float32 features; compare in the same precision.
        X32 = np.asarray(X, dtype=np.float32)
        out = np.full(X32.shape[0], float(self.init))
        for t in self.trees:
            out += self.learning_rate * t.predict(X32)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"init": self.init, "learning_rate": self.learning_rate, "params": self.params,
                "trees": [t.__dict__ for t in self.trees]}


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


# --- the saved model -------------------------------------------------------------

@dataclass
class FusionModel:
    """A fitted fusion model: inputs, the model, and its cross-validation report."""

    name: str
    kind: str
    inputs: list[FusionInput]
    model: RidgeModel | GBMModel
    report: dict[str, Any] = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions for rows of input values in :attr:`inputs` order."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.inputs):
            raise MetricError(f"fusion model {self.name} takes {len(self.inputs)} inputs, got "
                              f"an array of shape {X.shape}")
        if not np.isfinite(X).all():
            raise MetricError(f"fusion model {self.name}: an input score is missing or not "
                              "finite")
        return self.model.predict(X)

    def predict_frame(self, df: pd.DataFrame) -> np.ndarray:
        """Predictions for a table holding every input column."""
        missing = [i.column for i in self.inputs if i.column not in df.columns]
        if missing:
            raise InputError(f"the table lacks the fusion model's input column(s) {missing}")
        return self.predict(df[[i.column for i in self.inputs]].to_numpy(dtype=np.float64))

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "name": self.name,
                "kind": self.kind, "inputs": [i.__dict__ for i in self.inputs],
                "model": self.model.to_json(), "report": self.report}

    @classmethod
    def from_json(cls, obj: dict[str, Any], where: str = FILE) -> FusionModel:
        """Rebuild from :meth:`to_json` output, checking every field."""
        try:
            if obj.get("format") != FORMAT:
                raise MetricError(f"{where}: not a videojury fusion model")
            if int(obj.get("format_version", 0)) > FORMAT_VERSION:
                raise MetricError(f"{where}: fusion format {obj['format_version']} is newer "
                                  "than this videojury reads; upgrade videojury")
            inputs = [FusionInput(str(i["column"]), str(i["metric"]), str(i["field"]))
                      for i in obj["inputs"]]
            m = obj["model"]
            n = len(inputs)
            if obj["kind"] == "ridge":
                model: RidgeModel | GBMModel = RidgeModel(
                    [float(v) for v in m["mean"]], [float(v) for v in m["scale"]],
                    [float(v) for v in m["coef"]], float(m["intercept"]), float(m["alpha"]))
                if not (len(model.mean) == len(model.scale) == len(model.coef) == n):
                    raise MetricError(f"{where}: ridge arrays do not match the {n} inputs")
            elif obj["kind"] == "gbm":
                trees = []
                for t in m["trees"]:
                    tree = Tree([int(v) for v in t["left"]], [int(v) for v in t["right"]],
                                [int(v) for v in t["feature"]],
                                [float(v) for v in t["threshold"]],
                                [float(v) for v in t["value"]])
                    k = len(tree.left)
                    if not (len(tree.right) == len(tree.feature) == len(tree.threshold)
                            == len(tree.value) == k) or k == 0:
                        raise MetricError(f"{where}: a tree's node arrays differ in length")
                    inner = [i for i in range(k) if tree.left[i] != -1]
                    # Children come after their parent (as sklearn numbers them), so a
                    # walk from the root always ends at a leaf: no cycles.
                    if any(not (0 <= tree.feature[i] < n) or not (i < tree.left[i] < k)
                           or not (i < tree.right[i] < k) for i in inner):
                        raise MetricError(f"{where}: a tree refers to a node or input that "
                                          "does not exist (or to a node before itself)")
                    trees.append(tree)
                model = GBMModel(float(m["init"]), float(m["learning_rate"]), trees,
                                 dict(m.get("params", {})))
            else:
                raise MetricError(f"{where}: unknown fusion model kind {obj['kind']!r}")
            numbers = ([*model.mean, *model.scale, *model.coef, model.intercept]
                       if isinstance(model, RidgeModel) else
                       [model.init, model.learning_rate,
                        *(v for t in model.trees for v in (*t.threshold, *t.value))])
            if not all(math.isfinite(v) for v in numbers) or (
                    isinstance(model, RidgeModel) and 0.0 in model.scale):
                raise MetricError(f"{where}: the {obj['kind']} model holds a number that is "
                                  "not finite (or a zero scale)")
            name = str(obj["name"])
            check_name(name, where)
            return cls(name, str(obj["kind"]), inputs, model, dict(obj.get("report", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise MetricError(f"{where}: malformed fusion model ({exc.__class__.__name__}: "
                              f"{exc})") from None


def check_name(name: str, where: str = "fusion model") -> None:
    """A fusion model's name becomes a score column: it must not be empty or shadow an
    item column (``video``, ``prompt``, ...)."""
    if not name.strip() or name in _NOT_SCORES:
        raise MetricError(f"{where}: the fusion model's name {name!r} cannot be a score "
                          f"column (not empty, none of {', '.join(sorted(_NOT_SCORES))}); "
                          "choose another name (videojury fit --name)")


def save_fusion(model: FusionModel, folder: str | os.PathLike) -> Path:
    """Write ``folder/fusion.json`` (atomically)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE
    tmp = path.with_name(FILE + ".tmp")
    tmp.write_text(json.dumps(model.to_json(), indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_fusion(folder: str | os.PathLike) -> FusionModel:
    """Read ``folder/fusion.json`` (or the file itself)."""
    p = Path(folder)
    path = p / FILE if p.is_dir() else p
    if not path.is_file():
        raise MetricError(f"{p}: no {FILE}; not a fusion model folder")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MetricError(f"{path}: cannot be read as JSON ({exc})") from None
    return FusionModel.from_json(obj, str(path))


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

    ``features`` names the columns (default: every numeric column that a
    registered metric declares as a field, so manifest columns such as
    ``level`` are never used by accident: a metric counts as present only
    when every field it declares is a column). ``specs`` maps a column to the
    metric spec that computes it, for columns the registry cannot place.
    A column ``field[label]`` (two metrics declaring one field) comes from
    metric spec ``label``.
    """
    owners, declared = _field_owners()
    specs = dict(specs or {})
    skip = _NOT_SCORES | set(exclude)
    out: list[FusionInput] = []
    candidates = list(features) if features else [c for c in df.columns if c not in skip]
    for col in candidates:
        if col not in df.columns:
            raise InputError(f"no column {col!r} in the scores table (columns: "
                             f"{', '.join(map(str, df.columns))})")
        if not pd.api.types.is_numeric_dtype(pd.to_numeric(df[col], errors="coerce")) or \
                pd.to_numeric(df[col], errors="coerce").notna().sum() == 0:
            if features:
                raise InputError(f"column {col!r} holds no numbers")
            continue
        m = _LABELLED.match(str(col))
        if col in specs:
            spec, fld = specs[col], (m.group("field") if m else str(col))
        elif m:
            spec, fld = m.group("label"), m.group("field")
        elif len(owners.get(str(col), [])) == 1 and (features or all(
                f in df.columns for f in declared[owners[str(col)][0]])):
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
    ``field[label]`` when two metrics (or option sets) share a field name.
    The latest result wins where a video was scored more than once.
    """
    from ..metrics.base import load_metric
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
    labels: dict[tuple[str, str], str] = {}
    for metric, options in long[["metric", "options"]].drop_duplicates().itertuples(index=False):
        try:
            labels[(metric, options)] = load_metric(metric, **json.loads(options)).label
        except Exception:  # noqa: BLE001 - a metric no longer installed keeps its raw name
            labels[(metric, options)] = metric
    long = long.assign(label=[labels[(m, o)] for m, o in zip(long["metric"], long["options"])])
    per_field = long.groupby("field")["label"].nunique()
    long = long.assign(column=[f if per_field[f] == 1 else f"{f}[{lab}]"
                               for f, lab in zip(long["field"], long["label"])])
    wide = long.pivot_table(index="video", columns="column", values="value", aggfunc="last")
    wide.columns.name = None
    return wide.reset_index()


def attach_mos(scores: pd.DataFrame, labels: pd.DataFrame, base_dir: Path | None = None
               ) -> pd.DataFrame:
    """Join human labels (``video, mos[, prompt_id, prompt, model]``) onto a scores table.

    Videos are matched by the path as written, then by absolute path (label
    paths relative to ``base_dir``), then by file name when that is unique
    on both sides. Rows without a label are dropped; the number matched is
    in ``attrs['matched']``.
    """
    def norm(v: str, base: Path | None) -> str:
        p = Path(str(v))
        if not p.is_absolute() and base is not None:
            p = base / p
        return os.path.normpath(str(p.absolute()))

    lab = labels.copy()
    keys = {}
    for i, v in enumerate(lab["video"]):
        keys.setdefault(("raw", str(v)), i)
        keys.setdefault(("abs", norm(v, base_dir)), i)
    names = pd.Series([Path(str(v)).name for v in lab["video"]])
    unique_names = {n: i for i, n in enumerate(names) if (names == n).sum() == 1}
    score_names = pd.Series([Path(str(v)).name for v in scores["video"]])
    idx = []
    for v, n in zip(scores["video"], score_names):
        i = keys.get(("raw", str(v)))
        if i is None:
            i = keys.get(("abs", norm(v, None)))
        if i is None and (score_names == n).sum() == 1:
            i = unique_names.get(n)
        idx.append(i)
    keep = [j for j, i in enumerate(idx) if i is not None]
    out = scores.iloc[keep].reset_index(drop=True).copy()
    matched = lab.iloc[[idx[j] for j in keep]].reset_index(drop=True)
    out["mos"] = matched["mos"].astype(float).to_numpy()
    for col in ("prompt_id", "prompt", "model"):
        if col in matched.columns and (col not in out.columns or out[col].isna().all()):
            out[col] = matched[col].to_numpy()
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

    def table(self) -> pd.DataFrame:
        cols = ["model", "kind", "cv_srcc", "cv_srcc_sd", "pooled_srcc", "pooled_plcc",
                "pooled_krcc"]
        return pd.DataFrame([{c: r.get(c) for c in cols} for r in self.rows], columns=cols)

    def chosen_row(self) -> dict[str, Any]:
        return next(r for r in self.rows if r["model"] == self.chosen)

    def to_json(self) -> dict[str, Any]:
        return {"rows": [{k: v for k, v in r.items() if k != "oof"} for r in self.rows],
                "chosen": self.chosen, "best_single": {k: v for k, v in
                                                       self.best_single.items() if k != "oof"},
                "n": self.n, "n_groups": self.n_groups, "folds": self.folds,
                "dropped": self.dropped}


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
        rows.append({"model": kind, "kind": "fusion", **res})
    for j, inp in enumerate(inputs):
        res = _cv(lambda a, b, c, j=j: fit_ridge(a[:, [j]], b).predict(c[:, [j]]), X, y, fl)
        rows.append({"model": inp.column, "kind": "single", **res})

    def key(r: dict[str, Any]) -> float:
        v = r["cv_srcc"]
        return -math.inf if v is None or math.isnan(v) else v

    singles = [r for r in rows if r["kind"] == "single"]
    best_single = max(singles, key=key)
    chosen = model if model != "auto" else max(rows[:2], key=key)["model"]
    rows.sort(key=lambda r: (r["kind"] != "fusion", -key(r)))
    report = FitReport(rows, chosen, best_single, len(y), len(set(groups.tolist())), len(fl),
                       dropped)
    final = FusionModel(name, chosen, inputs, _fit(chosen, X, y, seed), report.to_json())
    return final, report
