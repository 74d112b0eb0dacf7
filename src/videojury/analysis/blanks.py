"""Why a statistic of the agreement table is blank, in words.

:func:`videojury.analysis.agreement` leaves SRCC, KRCC and PLCC empty (NaN)
where they are undefined: fewer than ``min_group`` videos in a group, scores
that are all equal (nothing to rank), human scores that are all equal, or,
at the model level, fewer than three models or model means that are all
equal. :func:`explain_blanks` states which of these it was for each row, so
a blank cell never comes without a reason.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["explain_blanks"]

_MIN_MODELS = 3


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _subset(joined: pd.DataFrame, row) -> pd.DataFrame:
    sub = joined[joined["human_dimension"].astype(str) == str(row["human_dimension"])]
    b = row["breakdown"]
    if b != "all" and b in sub.columns:
        sub = sub[sub[b].astype(str) == str(row["group"])]
    return sub


def _constant(field: str, x: np.ndarray, y: np.ndarray, what: str) -> str:
    if x.size and np.ptp(x) == 0:
        return f"every {what}{field!r} score is {_fmt(x[0])}: nothing to rank"
    if y.size and np.ptp(y) == 0:
        return f"every {what}human score is {_fmt(y[0])}: nothing to rank"
    return ""


def _reason(row, joined: pd.DataFrame, min_group: int) -> str:
    level, field = row["level"], row["field"]
    if field not in joined.columns:
        return ""
    sub = _subset(joined, row)
    x = pd.to_numeric(sub[field], errors="coerce").to_numpy(dtype=float)
    y = sub["mos"].to_numpy(dtype=float)
    ok = np.isfinite(x)
    x, y = x[ok], y[ok]
    n = int(x.size)
    if n < min_group:
        return f"{n} video(s) here; the statistics need at least {min_group}"
    if level == "instance":
        return _constant(field, x, y, "")
    # Model level: correlate per-model means.
    if "model" not in sub.columns:
        return "no model column"
    models = sub["model"][ok]
    if models.isna().any():
        return f"{int(models.isna().sum())} video(s) without a model"
    g = models.astype(str).to_numpy()
    k = len(set(g))
    if k < _MIN_MODELS:
        return f"{k} model(s) here; the model level needs at least {_MIN_MODELS}"
    means = pd.DataFrame({"g": g, "x": x, "y": y}).groupby("g")[["x", "y"]].mean()
    return _constant(field, means["x"].to_numpy(), means["y"].to_numpy(), "per-model mean ")


def explain_blanks(table: pd.DataFrame, joined: pd.DataFrame, *, min_group: int = 5) -> list[str]:
    """One reason per row of an agreement ``table`` whose SRCC is blank ("" elsewhere).

    ``joined`` is the predictions joined to the human labels
    (:func:`videojury.analysis.join_scores`, with ``allow_unmatched``); the
    reason is worked out from the same rows the statistic used: a field's
    missing values are left out, as ``drop_missing`` does. Only the instance
    and model levels are explained (pair and QA rows say their own counts).
    """
    out = []
    for _, row in table.iterrows():
        v = row.get("srcc")
        blank = v is None or (isinstance(v, float) and math.isnan(v))
        if not blank or row.get("level") not in ("instance", "model") or joined is None or not len(joined):
            out.append("")
            continue
        out.append(_reason(row, joined, min_group))
    return out
