"""Raw ratings to mean opinion scores: BT.500 screening, z-scores, MOS, CIs.

Pipeline (each step a plain function on a long ratings table with columns
``rater, video, dimension, score``):

1. :func:`bt500_screen` - observer screening of ITU-R BT.500 (Annex 2,
   section 2.3.1 in editions -13/-14). For every presented condition (here a
   (video, dimension) cell) take the mean, the standard deviation ``S`` and
   the kurtosis ``beta2 = m4 / m2^2`` of all its scores. The scores are
   treated as normal when ``2 <= beta2 <= 4`` and then ``k = 2``, otherwise
   ``k = sqrt(20)``. For each rater count ``P`` (scores ``>= mean + k S``) and
   ``Q`` (scores ``<= mean - k S``) over the ``N`` scores they gave; reject the
   rater when ``(P + Q) / N > 0.05`` and ``|(P - Q) / (P + Q)| < 0.3``. The
   second condition keeps raters whose deviations are all on one side (a
   consistent bias, which z-scoring removes) and rejects erratic ones.
2. :func:`zscore_ratings` - per rater and dimension,
   ``z = (score - rater mean) / rater std``, rescaled to 0-100 by
   ``100 (z + 3) / 6``; this removes each rater's own use of the scale.
3. :func:`compute_mos` - mean of the rescaled z-scores of the kept raters
   per (video, dimension), with standard deviation, count and a t-based
   confidence interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError

__all__ = [
    "MOSResult",
    "bt500_screen",
    "compute_mos",
    "condition_stats",
    "zscore_ratings",
]

_K_NORMAL = 2.0
_K_OTHER = math.sqrt(20.0)


def _check(ratings: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("rater", "video", "score") if c not in ratings.columns]
    if missing:
        raise InputError(f"ratings table is missing column(s) {', '.join(map(repr, missing))}")
    df = ratings.copy()
    if "dimension" not in df.columns:
        df["dimension"] = "overall"
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    bad = ~np.isfinite(df["score"].to_numpy(dtype=float))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"ratings row {i + 1}: field 'score' is missing or not a number")
    df = df.reset_index(drop=True)
    return df


def condition_stats(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per (video, dimension): count, mean, std (n-1), kurtosis beta2 and the BT.500 ``k``.

    ``beta2`` uses population moments (``m4 / m2^2``, normal = 3) as in
    BT.500. Cells with fewer than two scores or no spread get ``k = NaN``:
    no score there can be an outlier (with ``S = 0`` every score would
    satisfy ``u >= mean + k S`` and be counted as one, a known trap).
    """
    df = _check(ratings)
    key = df.groupby(["video", "dimension"], sort=False).ngroup().to_numpy()
    s = df["score"].to_numpy(dtype=float)
    cnt = np.bincount(key)
    mean = np.bincount(key, weights=s) / cnt
    dev = s - mean[key]
    m2 = np.bincount(key, weights=dev**2) / cnt
    m4 = np.bincount(key, weights=dev**4) / cnt
    with np.errstate(invalid="ignore", divide="ignore"):
        beta2 = m4 / m2**2
        std = np.sqrt(m2 * cnt / np.maximum(cnt - 1, 1))
    k = np.where((beta2 >= 2.0) & (beta2 <= 4.0), _K_NORMAL, _K_OTHER)
    k = np.where((cnt < 2) | (m2 <= 0), np.nan, k)
    first = np.unique(key, return_index=True)[1]
    return pd.DataFrame({
        "video": df["video"].to_numpy()[first],
        "dimension": df["dimension"].to_numpy()[first],
        "n": cnt,
        "mean": mean,
        "std": np.where(cnt < 2, np.nan, std),
        "beta2": beta2,
        "k": k,
    })


def _flags(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per rating: is it >= mean + kS (P), <= mean - kS (Q), and the condition key."""
    cs = condition_stats(df)
    key = df.groupby(["video", "dimension"], sort=False).ngroup().to_numpy()
    mean = cs["mean"].to_numpy()[key]
    std = cs["std"].to_numpy()[key]
    k = cs["k"].to_numpy()[key]
    s = df["score"].to_numpy(dtype=float)
    ok = np.isfinite(k)
    with np.errstate(invalid="ignore"):
        p = ok & (s >= mean + k * std)
        q = ok & (s <= mean - k * std)
    return p, q, key


def bt500_screen(
    ratings: pd.DataFrame,
    *,
    outlier_fraction: float = 0.05,
    symmetry: float = 0.3,
    per_dimension: bool = False,
) -> pd.DataFrame:
    """Apply the ITU-R BT.500 observer screening and report every rater.

    Returns one row per rater (per rater and dimension when
    ``per_dimension``) with ``N`` (scores given), ``P``, ``Q``,
    ``outlier_ratio = (P + Q) / N``, ``asymmetry = |P - Q| / (P + Q)`` (NaN
    when ``P + Q == 0``), ``rejected`` and a human-readable ``reason``. A
    rater is rejected when ``outlier_ratio > outlier_fraction`` and
    ``asymmetry < symmetry``. By default all of a rater's scores, across
    dimensions, are pooled into one decision as BT.500 pools all
    presentations of an observer.
    """
    df = _check(ratings)
    p, q, _ = _flags(df)
    keys = ["rater", "dimension"] if per_dimension else ["rater"]
    tmp = df[keys].copy()
    tmp["P"] = p.astype(int)
    tmp["Q"] = q.astype(int)
    tmp["N"] = 1
    agg = tmp.groupby(keys, sort=True)[["N", "P", "Q"]].sum().reset_index()
    if not per_dimension:
        agg.insert(1, "dimension", "*")
    pq = (agg["P"] + agg["Q"]).to_numpy(dtype=float)
    agg["outlier_ratio"] = pq / agg["N"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        agg["asymmetry"] = np.where(pq > 0, np.abs(agg["P"] - agg["Q"]) / np.where(pq > 0, pq, 1), np.nan)
    rej = (agg["outlier_ratio"] > outlier_fraction) & (agg["asymmetry"] < symmetry)
    agg["rejected"] = rej.to_numpy()
    reasons = []
    for r in agg.itertuples(index=False):
        if r.rejected:
            reasons.append(
                f"BT.500: (P+Q)/N = ({r.P}+{r.Q})/{r.N} = {r.outlier_ratio:.3f} > {outlier_fraction:g} "
                f"and |P-Q|/(P+Q) = {r.asymmetry:.3f} < {symmetry:g}"
            )
        else:
            reasons.append("")
    agg["reason"] = reasons
    return agg


def zscore_ratings(ratings: pd.DataFrame, *, rescale: bool = True) -> np.ndarray:
    """Per-rater, per-dimension z-scores of every rating (rescaled to 0-100 by default).

    ``z = (score - mean) / std`` over that rater's scores in that dimension
    (std with n-1). Returns NaN for ratings of a rater who gave a single
    score or the same score throughout in that dimension: their scale use
    cannot be estimated. ``rescale`` maps ``z`` to ``100 (z + 3) / 6`` so
    that +-3 standard deviations span 0-100.
    """
    df = _check(ratings)
    g = df.groupby(["rater", "dimension"], sort=False)["score"]
    mean = g.transform("mean").to_numpy(dtype=float)
    std = g.transform("std").to_numpy(dtype=float)  # ddof=1
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (df["score"].to_numpy(dtype=float) - mean) / std
    z[~(std > 0)] = np.nan
    return 100.0 * (z + 3.0) / 6.0 if rescale else z


@dataclass
class MOSResult:
    """MOS table, per-rater screening report and the settings that produced them."""

    mos: pd.DataFrame
    raters: pd.DataFrame
    settings: dict = field(default_factory=dict)

    @property
    def rejected(self) -> list[str]:
        """Raters excluded from the MOS (BT.500 or no usable variance)."""
        return sorted(set(self.raters.loc[self.raters["rejected"], "rater"].astype(str)))

    @property
    def excluded(self) -> list:
        """What was left out of the MOS, for :func:`split_half_reliability`.

        A rater name where the rater was rejected in every dimension (pooled
        BT.500 screening), a ``(rater, dimension)`` tuple where only one
        dimension was affected (``per_dimension`` screening, no variance).
        """
        rej = self.raters[self.raters["rejected"]]
        return sorted({r if d == "*" else (r, d) for r, d in zip(rej["rater"], rej["dimension"])}, key=str)


def compute_mos(
    ratings: pd.DataFrame,
    *,
    screen: bool = True,
    zscore: bool = True,
    per_dimension: bool = False,
    drop_outlier_scores: bool = False,
    confidence: float = 0.95,
    outlier_fraction: float = 0.05,
    symmetry: float = 0.3,
) -> MOSResult:
    """Turn long-format ratings into per-(video, dimension) MOS with t-based CIs.

    Steps: optional BT.500 screening (:func:`bt500_screen`); per-rater
    z-scores rescaled to 0-100 (:func:`zscore_ratings`) or, with
    ``zscore=False``, the raw scores; mean, standard deviation (n-1) and
    count of the kept ratings per (video, dimension); and the interval
    ``mos +- t_{(1+confidence)/2, n-1} * std / sqrt(n)`` (NaN for n < 2).
    Raters with no variance in a dimension cannot be z-scored and are
    excluded there with a reason rather than silently. With
    ``drop_outlier_scores`` the individual scores outside ``mean +- k S`` of
    their condition are also dropped from kept raters, as the LOVE /
    AIGVE-60K MATLAB script does; BT.500 itself does not do this, so it is
    off by default. ``mos_raw`` is always the plain mean of the kept raw
    scores, for reference.
    """
    df = _check(ratings)
    if df.empty:
        raise InputError("ratings table has no rows")
    if screen:
        raters = bt500_screen(df, outlier_fraction=outlier_fraction, symmetry=symmetry, per_dimension=per_dimension)
    else:
        keys = ["rater", "dimension"] if per_dimension else ["rater"]
        raters = df.groupby(keys, sort=True).size().rename("N").reset_index()
        if not per_dimension:
            raters.insert(1, "dimension", "*")
        for c in ("P", "Q"):
            raters[c] = 0
        raters["outlier_ratio"] = np.nan
        raters["asymmetry"] = np.nan
        raters["rejected"] = False
        raters["reason"] = ""
    if per_dimension:
        rej_pairs = set(map(tuple, raters.loc[raters["rejected"], ["rater", "dimension"]].to_numpy()))
        keep = np.array([(r, d) not in rej_pairs for r, d in zip(df["rater"], df["dimension"])], dtype=bool)
    else:
        rej = set(raters.loc[raters["rejected"], "rater"])
        keep = ~df["rater"].isin(rej).to_numpy()
    if drop_outlier_scores and screen:
        p, q, _ = _flags(df)
        keep &= ~(p | q)
    value = df["score"].to_numpy(dtype=float)
    if zscore:
        # z-scores use every score of a kept rater (screening is about raters,
        # their scale use is estimated from all they rated).
        kept = df[keep]
        z = np.full(len(df), np.nan)
        z[keep] = zscore_ratings(kept)
        novar = keep & np.isnan(z)
        if novar.any():
            bad = df.loc[novar].groupby(["rater", "dimension"]).size()
            extra = []
            for (r, d), cnt in bad.items():
                extra.append({
                    "rater": r, "dimension": d, "N": int(cnt), "P": 0, "Q": 0,
                    "outlier_ratio": np.nan, "asymmetry": np.nan, "rejected": True,
                    "reason": f"no variance: {int(cnt)} score(s) all equal in dimension {d!r}, cannot z-score",
                })
            raters = pd.concat([raters, pd.DataFrame(extra)], ignore_index=True)
            keep &= ~novar
        value = z
    kept_df = df.loc[keep, ["video", "dimension"]].copy()
    kept_df["value"] = value[keep]
    kept_df["raw"] = df.loc[keep, "score"].to_numpy(dtype=float)
    g = kept_df.groupby(["video", "dimension"], sort=False)
    out = g["value"].agg(["mean", "std", "size"]).rename(columns={"mean": "mos", "size": "n"})
    out["mos_raw"] = g["raw"].mean()
    out = out.reset_index()
    n = out["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf((1 + confidence) / 2.0, np.maximum(n - 1, 1)) * out["std"].to_numpy() / np.sqrt(n)
    half[n < 2] = np.nan
    out["ci_low"] = out["mos"] - half
    out["ci_high"] = out["mos"] + half
    # Videos all of whose raters were rejected disappear from `out`; report them.
    all_cells = df[["video", "dimension"]].drop_duplicates()
    lost = all_cells.merge(out[["video", "dimension"]], how="left", indicator=True)
    lost = lost[lost["_merge"] == "left_only"]
    out = out[["video", "dimension", "mos", "std", "n", "ci_low", "ci_high", "mos_raw"]]
    settings = {
        "screen": screen,
        "zscore": zscore,
        "per_dimension": per_dimension,
        "drop_outlier_scores": drop_outlier_scores,
        "confidence": confidence,
        "outlier_fraction": outlier_fraction,
        "symmetry": symmetry,
        "n_ratings": int(len(df)),
        "n_ratings_kept": int(keep.sum()),
        "videos_without_mos": lost[["video", "dimension"]].to_dict("records"),
    }
    return MOSResult(mos=out.reset_index(drop=True), raters=raters.reset_index(drop=True), settings=settings)
