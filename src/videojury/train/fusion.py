"""Fusion models: a small JSON model from metric scores to a MOS prediction.

The model side only (fitting is :mod:`videojury.train.fusion_fit`): the
input columns and the metric specs that compute them
(:class:`FusionInput`), ridge regression on standardised scores
(:class:`RidgeModel`) or gradient-boosted trees as node arrays
(:class:`GBMModel`), and ``fusion.json`` saved and loaded with every field
checked (:func:`save_fusion`, :func:`load_fusion`). The file holds plain
numbers - means, scales and coefficients for ridge; the initial value,
learning rate and each tree's node arrays for gradient boosting - and never
a pickle. Predicting from the JSON reproduces scikit-learn's predictions
(trees compare float32 features, as sklearn's do). No scikit-learn here:
the metric ``trained:DIR`` loads and applies a model with NumPy alone.

As a metric (``trained:DIR``) a fusion model scores with the exact metric
specs (name and options) it was fitted on;
:meth:`FusionModel.predict_frame` applies it to a table of scores already
computed.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, MetricError
from ..io import read_json, write_json

FORMAT = "videojury-fusion"
FORMAT_VERSION = 1
FILE = "fusion.json"
# Columns a results table uses for items and labels: a fusion model's name (its
# score column) may not be one of them.
_NOT_SCORES = {"video", "prompt", "prompt_id", "model", "dimension", "question", "answer",
               "error", "mos", "video_hash", "text", "status"}


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
    return write_json(model.to_json(), Path(folder) / FILE, sort_keys=True)


def load_fusion(folder: str | os.PathLike) -> FusionModel:
    """Read ``folder/fusion.json`` (or the file itself)."""
    p = Path(folder)
    path = p / FILE if p.is_dir() else p
    if not path.is_file():
        raise MetricError(f"{p}: no {FILE}; not a fusion model folder")
    try:
        obj = read_json(path, "fusion model")
    except InputError as exc:
        raise MetricError(str(exc)) from None
    return FusionModel.from_json(obj, str(path))
