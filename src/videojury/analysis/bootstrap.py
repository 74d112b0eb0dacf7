"""Vectorised, seeded bootstrap for correlation statistics.

A bootstrap resample of ``n`` items is represented by a weight vector ``w``
(how many times each item was drawn; ``sum(w) == n``), never by an index
array. Every statistic is then a weighted statistic of the *original* data,
which lets us keep the sorted order and tie groups of the data fixed and
compute a whole block of resamples with a few array passes:

* PLCC: weighted Pearson's r.
* SRCC: the average rank of a value in the resample is
  ``cumsum(weights of the values below) + (its weight + 1) / 2``, a cumsum
  over the presorted data, so no sorting happens per resample. This equals
  scipy's Spearman on the expanded resample exactly, ties included.
* KRCC: tau-b of a resample is a ratio of three quadratic forms in ``w``.
  Below ``krcc_exact_max_n`` items we compute it exactly per resample
  (scipy's O(n log n) Kendall on the expanded resample, ~20 ms at n=60k, too
  slow for 1,000 resamples there); above it we use the first-order
  (Hoeffding / influence-function) expansion of each form around ``w = 1``,
  whose error is of relative order 1/sqrt(n) of the bootstrap spread, and
  whose cost is one O(n log^2 n) pass plus a matrix-vector product.

Resampling clusters (e.g. all videos of one prompt) instead of items only
changes how ``w`` is drawn: a cluster's multiplicity is given to each of its
items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .correlation import as_pair

__all__ = [
    "BootstrapResult",
    "Resampler",
    "bootstrap_correlations",
    "bootstrap_statistic",
    "concordance_scores",
    "percentile_ci",
    "weighted_kendall_exact",
    "weighted_kendall_linear",
    "weighted_pearson",
    "weighted_spearman",
    "WeightedRanker",
]

# Upper bound on elements in one block of resample weights (~64 MB as float64).
_BLOCK_ELEMENTS = 8_000_000


@dataclass
class Resampler:
    """Draws blocks of bootstrap weights for ``n`` items, reproducibly.

    ``clusters`` (one label per item) switches to the cluster bootstrap:
    clusters are drawn with replacement and every item of a drawn cluster
    gets the cluster's multiplicity. Two ``Resampler`` objects with the same
    ``n``, ``clusters``, ``n_resamples`` and ``seed`` yield identical weights,
    which is what makes the paired comparison of two metrics paired.
    """

    n: int
    n_resamples: int = 1000
    seed: int = 0
    clusters: Sequence | np.ndarray | None = None
    block: int | None = None
    _cluster_index: np.ndarray | None = field(default=None, init=False, repr=False)
    _n_clusters: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.clusters is not None:
            labels = np.asarray(self.clusters)
            if labels.shape[0] != self.n:
                raise ValueError(f"clusters has {labels.shape[0]} labels for {self.n} items")
            _, inv = np.unique(labels, return_inverse=True)
            self._cluster_index = inv.ravel()
            self._n_clusters = int(inv.max()) + 1 if inv.size else 0

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield float arrays of shape ``(b, n)`` whose rows are resample weights."""
        rng = np.random.default_rng(self.seed)
        units = self._n_clusters if self._cluster_index is not None else self.n
        per_block = self.block or max(1, min(self.n_resamples, _BLOCK_ELEMENTS // max(self.n, 1)))
        done = 0
        while done < self.n_resamples:
            b = min(per_block, self.n_resamples - done)
            draws = rng.integers(0, units, size=(b, units))
            # One flat bincount counts all rows at once: offset row r by r*units.
            flat = (draws + (np.arange(b) * units)[:, None]).ravel()
            counts = np.bincount(flat, minlength=b * units).reshape(b, units)
            if self._cluster_index is not None:
                counts = counts[:, self._cluster_index]
            yield counts.astype(float)
            done += b


def weighted_pearson(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of ``x`` and ``y`` under each row of weights ``W``.

    ``x`` and ``y`` may be 1-D (shared by all rows) or 2-D like ``W`` (e.g.
    per-resample ranks). Returns one value per row, NaN where a side has no
    spread in that resample.
    """
    N = W.sum(axis=1)
    mx = (W * x).sum(axis=1) / N
    my = (W * y).sum(axis=1) / N
    xc = x - mx[:, None]
    yc = y - my[:, None]
    sxy = (W * xc * yc).sum(axis=1)
    sxx = (W * xc * xc).sum(axis=1)
    syy = (W * yc * yc).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    return np.clip(r, -1.0, 1.0)


class WeightedRanker:
    """Average ranks of a fixed 1-D array under many resample weight vectors.

    The sort order and tie groups are computed once; ``ranks(W)`` then costs a
    gather, a segmented sum and a cumsum per resample block.
    """

    def __init__(self, a: np.ndarray):
        a = np.asarray(a, dtype=float)
        self.order = np.argsort(a, kind="mergesort")
        sa = a[self.order]
        new = np.r_[True, sa[1:] != sa[:-1]]
        self.starts = np.flatnonzero(new)
        self.group_sorted = np.cumsum(new) - 1
        self.group = np.empty(a.size, dtype=np.int64)
        self.group[self.order] = self.group_sorted
        self.has_ties = self.starts.size < a.size

    def ranks(self, W: np.ndarray) -> np.ndarray:
        """Return an array like ``W`` holding each item's average rank per resample."""
        Ws = W[:, self.order]
        if self.has_ties:
            Wg = np.add.reduceat(Ws, self.starts, axis=1)
        else:
            Wg = Ws
        cum = np.cumsum(Wg, axis=1)
        # Items drawn w times occupy positions cum-w+1 .. cum; their mean is cum-(w-1)/2.
        avg = cum - (Wg - 1.0) / 2.0
        if self.has_ties:
            return avg[:, self.group]
        out = np.empty_like(avg)
        out[:, self.order] = avg
        return out


def weighted_spearman(W: np.ndarray, rx: WeightedRanker, ry: WeightedRanker) -> np.ndarray:
    """Spearman's rho under each row of ``W`` (exactly scipy's on the expanded resample)."""
    return weighted_pearson(W, rx.ranks(W), ry.ranks(W))


def _dense_ranks(a: np.ndarray) -> np.ndarray:
    _, inv = np.unique(a, return_inverse=True)
    return inv.ravel().astype(np.int64)


def _count_lower_left(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """For every point i, count points j with ``rx[j] < rx[i]`` and ``ry[j] < ry[i]``.

    Offline 2-D dominance counting without a Python loop over points: sort
    by ``rx``; the strictly-smaller prefix of point i is ``[0, g_i)`` where
    ``g_i`` is where its ``rx`` tie group starts. That prefix splits into at
    most log2(n) aligned dyadic blocks; for each block size we sort the
    (block id, ry) keys once and answer every point's query with two
    ``searchsorted`` calls. Cost O(n log^2 n) in vectorised numpy.
    """
    n = rx.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(rx, kind="mergesort")
    rxs = rx[order]
    rys = ry[order]
    # g: start of each point's rx tie group in sorted position.
    first = np.searchsorted(rxs, rxs, side="left")
    K = int(ry.max()) + 2
    counts = np.zeros(n, dtype=np.int64)
    pos = np.arange(n, dtype=np.int64)
    level = 0
    while (1 << level) <= n:
        bid = pos >> level  # block id of every sorted position at this level
        keys = np.sort(bid * K + rys)
        # Point i uses the block [g - size, g) iff bit `level` of g is set and that
        # block is aligned, i.e. block id (g >> level) - 1.
        use = ((first >> level) & 1).astype(bool)
        qb = (first[use] >> level) - 1
        lo = np.searchsorted(keys, qb * K, side="left")
        hi = np.searchsorted(keys, qb * K + rys[use], side="left")
        counts[np.flatnonzero(use)] += hi - lo
        level += 1
    out = np.empty(n, dtype=np.int64)
    out[order] = counts
    return out


def concordance_scores(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-item Kendall building blocks, each computed in O(n log^2 n).

    Returns ``(c, tx, ty)`` where ``c[i] = sum_j sign(x_i - x_j) * sign(y_i - y_j)``
    (concordant minus discordant partners of i), ``tx[i]`` the number of j with
    ``x_j != x_i`` and ``ty[i]`` likewise for y. Tau-b of the full sample is
    ``sum(c) / sqrt(sum(tx) * sum(ty))``.
    """
    rx = _dense_ranks(x)
    ry = _dense_ranks(y)
    mx, my = int(rx.max()), int(ry.max())
    c = (
        _count_lower_left(rx, ry)
        + _count_lower_left(mx - rx, my - ry)
        - _count_lower_left(rx, my - ry)
        - _count_lower_left(mx - rx, ry)
    )
    n = x.size
    tx = n - np.bincount(rx)[rx]
    ty = n - np.bincount(ry)[ry]
    return c.astype(float), tx.astype(float), ty.astype(float)


def weighted_kendall_linear(W: np.ndarray, c: np.ndarray, tx: np.ndarray, ty: np.ndarray) -> np.ndarray:
    """First-order (influence-function) bootstrap values of Kendall's tau-b.

    Each of the numerator ``S(w)`` and the two denominators is a quadratic
    form ``F(w) = 1/2 w'Aw`` with ``A1 = c`` (or ``tx``, ``ty``); we keep
    ``F(1) + (w - 1)'A1`` and drop the second-order term, whose size relative
    to the bootstrap spread shrinks like 1/sqrt(n). The ratio itself is kept
    exact.
    """
    S0, X0, Y0 = c.sum() / 2.0, tx.sum() / 2.0, ty.sum() / 2.0
    D = W - 1.0
    S = S0 + D @ c
    X = X0 + D @ tx
    Y = Y0 + D @ ty
    with np.errstate(invalid="ignore", divide="ignore"):
        t = S / np.sqrt(np.clip(X, 0, None) * np.clip(Y, 0, None))
    return np.clip(t, -1.0, 1.0)


def weighted_kendall_exact(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each resample, computed exactly on the expanded sample."""
    out = np.empty(W.shape[0])
    idx_all = np.arange(x.size)
    for r in range(W.shape[0]):
        idx = np.repeat(idx_all, W[r].astype(np.int64))
        xr, yr = x[idx], y[idx]
        if xr.size < 2 or np.all(xr == xr[0]) or np.all(yr == yr[0]):
            out[r] = np.nan
        else:
            out[r] = stats.kendalltau(xr, yr, variant="b").statistic
    return out


def percentile_ci(samples: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval, ignoring resamples whose statistic is undefined."""
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return (float("nan"), float("nan"))
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(s, [a, 1.0 - a])
    return (float(lo), float(hi))


@dataclass
class BootstrapResult:
    """Point estimates, percentile intervals and the raw resampled values."""

    estimate: dict[str, float]
    ci: dict[str, tuple[float, float]]
    samples: dict[str, np.ndarray]
    n: int
    n_resamples: int
    confidence: float
    krcc_method: str = ""


def bootstrap_statistic(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Sequence | np.ndarray | None = None,
) -> np.ndarray:
    """Evaluate a vectorised ``statistic(W) -> values`` over seeded resample blocks.

    ``statistic`` receives a ``(b, n)`` block of weights and must return ``b``
    values. This is the building block for statistics other than the three
    correlations (model-level correlations, pair accuracy, QA accuracy).
    """
    res = Resampler(n, n_resamples=n_resamples, seed=seed, clusters=clusters)
    return np.concatenate([np.asarray(statistic(W), dtype=float) for W in res.blocks()])


def bootstrap_correlations(
    x,
    y,
    *,
    statistics: Sequence[str] = ("srcc", "krcc", "plcc"),
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Sequence | np.ndarray | None = None,
    confidence: float = 0.95,
    krcc_exact_max_n: int = 5000,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> BootstrapResult:
    """Bootstrap percentile CIs for SRCC, KRCC, PLCC (and friends) of ``x`` vs ``y``.

    ``statistics`` may contain ``"srcc"``, ``"krcc"``, ``"plcc"`` and, when a
    ``transform`` (typically a fitted 4-parameter logistic) is given,
    ``"plcc_fit"`` and ``"rmse_fit"``: Pearson's r and the RMSE between
    ``transform(x)`` and ``y``. The transform is fitted once on the full data
    and held fixed across resamples, so its own fitting uncertainty is not in
    the interval (negligible at benchmark sizes; documented). All statistics
    share the same resamples. Items are resampled unless ``clusters`` gives
    a label per item, in which case clusters are. KRCC uses the exact
    per-resample tau-b up to ``krcc_exact_max_n`` items and the linearised
    expansion above it (see the module docstring).
    """
    xa, ya = as_pair(x, y)
    n = xa.size
    want = list(statistics)
    samples: dict[str, list[np.ndarray]] = {s: [] for s in want}
    need_rank = "srcc" in want
    rkx = WeightedRanker(xa) if need_rank else None
    rky = WeightedRanker(ya) if need_rank else None
    krcc_method = ""
    if "krcc" in want:
        if n <= krcc_exact_max_n:
            krcc_method = "exact"
        else:
            krcc_method = "linearised"
            c, tx, ty = concordance_scores(xa, ya)
    fx = None
    if "plcc_fit" in want or "rmse_fit" in want:
        if transform is None:
            raise ValueError("plcc_fit/rmse_fit need a transform (the fitted logistic)")
        fx = np.asarray(transform(xa), dtype=float)
    res = Resampler(n, n_resamples=n_resamples, seed=seed, clusters=clusters)
    for W in res.blocks():
        for s in want:
            if s == "srcc":
                v = weighted_spearman(W, rkx, rky)
            elif s == "plcc":
                v = weighted_pearson(W, xa, ya)
            elif s == "krcc":
                v = weighted_kendall_exact(W, xa, ya) if krcc_method == "exact" else weighted_kendall_linear(W, c, tx, ty)
            elif s == "plcc_fit":
                v = weighted_pearson(W, fx, ya) if np.all(np.isfinite(fx)) else np.full(W.shape[0], np.nan)
            elif s == "rmse_fit":
                v = np.sqrt((W * (fx - ya) ** 2).sum(axis=1) / W.sum(axis=1))
            else:
                raise ValueError(f"unknown statistic {s!r}")
            samples[s].append(v)
    out_samples = {s: np.concatenate(v) for s, v in samples.items()}
    ci = {s: percentile_ci(v, confidence) for s, v in out_samples.items()}
    return BootstrapResult(
        estimate={},
        ci=ci,
        samples=out_samples,
        n=n,
        n_resamples=n_resamples,
        confidence=confidence,
        krcc_method=krcc_method,
    )
