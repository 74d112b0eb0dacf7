"""Inter-rater reliability by seeded random split-half correlation.

Raters are split at random into two halves; each half's mean score per
video gives two independent "MOS" estimates; their Spearman correlation
over the videos both halves rated is the split-half reliability of a
panel of half the size, and the Spearman-Brown formula
``r_full = 2 r / (1 + r)`` projects it to the full panel. Averaging over
many seeded splits removes the luck of any one split. The ceiling this
gives is the best SRCC any metric can be expected to reach against these
MOS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..stats.bootstrap import weighted_pearson
from ..stats.correlation import average_ranks
from ..errors import InputError

__all__ = ["SplitHalfResult", "spearman_brown", "split_half_reliability"]


def spearman_brown(r: float | np.ndarray, factor: float = 2.0):
    """Spearman-Brown prophecy: reliability of a panel ``factor`` times as large."""
    r = np.asarray(r, dtype=float)
    out = factor * r / (1.0 + (factor - 1.0) * r)
    return float(out) if out.ndim == 0 else out


@dataclass
class SplitHalfResult:
    """Split-half reliability of one dimension, averaged over random splits."""

    dimension: str
    n_splits: int
    n_raters: int
    n_videos: int
    srcc_half: float  # mean split-half SRCC (half-size panels)
    srcc_full: float  # mean of Spearman-Brown corrected values
    srcc_full_std: float  # spread of the corrected value across splits
    values: np.ndarray  # corrected value per split

    def as_dict(self) -> dict:
        """Plain-dict view (without the per-split values) for JSON/CSV output."""
        return {
            "dimension": self.dimension,
            "n_splits": self.n_splits,
            "n_raters": self.n_raters,
            "n_videos": self.n_videos,
            "srcc_half": self.srcc_half,
            "srcc_full": self.srcc_full,
            "srcc_full_std": self.srcc_full_std,
        }


def _one_dimension(df: pd.DataFrame, value: np.ndarray, dim: str, n_splits: int, seed: int) -> SplitHalfResult:
    r_codes, raters = pd.factorize(df["rater"])
    v_codes, videos = pd.factorize(df["video"])
    nr, nv = len(raters), len(videos)
    if nr < 2:
        raise InputError(f"split-half reliability needs at least two raters; dimension {dim!r} has {nr}")
    rng = np.random.default_rng(seed)
    vals = []
    halves_r = []
    for _ in range(n_splits):
        half = np.zeros(nr, dtype=np.int64)
        half[rng.permutation(nr)[: nr // 2]] = 1
        h = half[r_codes]
        # Per-video sum and count for each half with one bincount each.
        idx = v_codes * 2 + h
        s = np.bincount(idx, weights=value, minlength=2 * nv).reshape(nv, 2)
        c = np.bincount(idx, minlength=2 * nv).reshape(nv, 2)
        ok = (c > 0).all(axis=1)
        if ok.sum() < 3:
            continue
        m = s[ok] / c[ok]
        ra = average_ranks(m[:, 0])
        rb = average_ranks(m[:, 1])
        r = float(weighted_pearson(np.ones((1, ra.size)), ra, rb)[0])
        if np.isfinite(r):
            halves_r.append(r)
            vals.append(spearman_brown(r))
    if not vals:
        raise InputError(f"dimension {dim!r}: no split left three videos rated by both halves")
    v = np.asarray(vals)
    return SplitHalfResult(
        dimension=dim,
        n_splits=len(v),
        n_raters=nr,
        n_videos=nv,
        srcc_half=float(np.mean(halves_r)),
        srcc_full=float(np.mean(v)),
        srcc_full_std=float(np.std(v, ddof=1)) if v.size > 1 else 0.0,
        values=v,
    )


def split_half_reliability(
    ratings: pd.DataFrame,
    *,
    n_splits: int = 100,
    seed: int = 0,
    zscore: bool = True,
    exclude_raters: list | None = None,
) -> list[SplitHalfResult]:
    """Split-half SRCC with Spearman-Brown correction, per dimension.

    ``ratings`` is the long table (``rater, video, dimension, score``). With
    ``zscore`` each rater's scores are z-scored first so that halves differ
    only in opinion, not in scale use (raters who cannot be z-scored are
    left out). ``exclude_raters`` removes e.g. BT.500-rejected raters: a
    rater name removes them everywhere, a ``(rater, dimension)`` tuple only
    in that dimension (as ``MOSResult.excluded`` gives them). For
    every one of ``n_splits`` seeded random splits of the raters into two
    halves, the halves' per-video mean scores are rank-correlated over the
    videos both rated; the reported reliability is the mean of the
    Spearman-Brown corrected values (and their spread across splits).
    """
    from .mos import zscore_ratings

    df = ratings.copy()
    if "dimension" not in df.columns:
        df["dimension"] = "overall"
    if exclude_raters:
        names = {r for r in exclude_raters if not isinstance(r, tuple)}
        pairs = {tuple(r) for r in exclude_raters if isinstance(r, tuple)}
        drop = df["rater"].isin(names).to_numpy().copy()
        if pairs:
            drop |= np.array([(r, d) in pairs for r, d in zip(df["rater"], df["dimension"])], dtype=bool)
        df = df[~drop]
    out = []
    for dim, sub in df.groupby("dimension", sort=True):
        sub = sub.reset_index(drop=True)
        value = zscore_ratings(sub, rescale=False) if zscore else sub["score"].to_numpy(dtype=float)
        ok = np.isfinite(value)
        out.append(_one_dimension(sub[ok].reset_index(drop=True), value[ok], str(dim), n_splits, seed))
    return out
