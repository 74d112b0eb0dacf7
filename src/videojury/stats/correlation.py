"""Correlation statistics used to judge a metric against human scores.

SRCC (Spearman), KRCC (Kendall tau-b), PLCC (Pearson), the 4-parameter
logistic mapping customary in VQEG reports and the RMSE after that mapping.
All functions take plain 1-D arrays and return plain floats, so they can be
reused by the bootstrap, the significance tests and the CLI alike.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = [
    "LogisticFit",
    "as_pair",
    "average_ranks",
    "fit_logistic",
    "krcc",
    "logistic4",
    "plcc",
    "rmse",
    "srcc",
]


def as_pair(x, y, *, name_x: str = "x", name_y: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Return ``x`` and ``y`` as equal-length 1-D float arrays with no NaN.

    Raises ``ValueError`` naming the offending argument when the lengths differ
    or a value is not finite; callers that read tables turn missing values into
    an ``InputError`` with the row number long before this point, so reaching
    this check means a programming error rather than bad user data.
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"{name_x} and {name_y} differ in length: {xa.size} != {ya.size}")
    for arr, nm in ((xa, name_x), (ya, name_y)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(f"{nm} has a non-finite value at position {int(np.flatnonzero(bad)[0])}")
    return xa, ya


def average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D array, ties given the average of the ranks they span.

    Same result as ``scipy.stats.rankdata(a, method="average")``; written out
    because the bootstrap reuses the sorted order and tie groups it computes.
    """
    a = np.asarray(a, dtype=float).ravel()
    order = np.argsort(a, kind="mergesort")
    sa = a[order]
    # A new tie group starts wherever the sorted value changes.
    starts = np.r_[True, sa[1:] != sa[:-1]]
    group = np.cumsum(starts) - 1
    counts = np.bincount(group)
    ends = np.cumsum(counts)  # 1-based position of each group's last element
    avg = ends - (counts - 1) / 2.0
    ranks = np.empty(a.size, dtype=float)
    ranks[order] = avg[group]
    return ranks


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2:
        return float("nan")
    xc = x - x.mean()
    yc = y - y.mean()
    den = math.sqrt(float(xc @ xc) * float(yc @ yc))
    if den == 0.0:
        # A constant variable has no defined correlation; NaN is more honest than 0.
        return float("nan")
    r = float(xc @ yc) / den
    return max(-1.0, min(1.0, r))


def plcc(x, y) -> float:
    """Pearson linear correlation coefficient between ``x`` and ``y``.

    Returns NaN when fewer than two items are given or either side is
    constant (the coefficient is undefined there). Matches
    ``scipy.stats.pearsonr(x, y).statistic`` to floating-point precision.
    """
    xa, ya = as_pair(x, y)
    return _pearson(xa, ya)


def srcc(x, y) -> float:
    """Spearman rank correlation: Pearson's r of the average ranks.

    Ties get the mean of the ranks they span, exactly as
    ``scipy.stats.spearmanr`` does, so the two agree on tied data too.
    Returns NaN for fewer than two items or a constant side.
    """
    xa, ya = as_pair(x, y)
    if xa.size < 2:
        return float("nan")
    return _pearson(average_ranks(xa), average_ranks(ya))


def krcc(x, y) -> float:
    """Kendall's tau-b, the tie-corrected rank correlation.

    Delegates to scipy's O(n log n) implementation (tau-b, which divides by
    the geometric mean of the pairs not tied in x and not tied in y), so the
    value is scipy's by construction. NaN for fewer than two items or a
    constant side.
    """
    xa, ya = as_pair(x, y)
    if xa.size < 2 or np.all(xa == xa[0]) or np.all(ya == ya[0]):
        return float("nan")
    return float(stats.kendalltau(xa, ya, variant="b").statistic)


def logistic4(x, b1: float, b2: float, b3: float, b4: float):
    """The VQEG 4-parameter logistic ``(b1 - b2) / (1 + exp(-(x - b3)/|b4|)) + b2``.

    ``b1`` and ``b2`` are the upper and lower asymptotes, ``b3`` the midpoint
    and ``|b4|`` the scale; using the absolute value keeps the curve
    increasing in ``x`` whatever sign the optimiser wanders to.
    """
    z = -(np.asarray(x, dtype=float) - b3) / max(abs(b4), 1e-12)
    # Clip the exponent: large arguments only mean "on the asymptote".
    return (b1 - b2) / (1.0 + np.exp(np.clip(z, -700.0, 700.0))) + b2


def _logistic4_jac(x, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    # Analytic Jacobian: far fewer function evaluations than finite differences.
    a = max(abs(b4), 1e-12)
    z = np.clip(-(np.asarray(x, dtype=float) - b3) / a, -700.0, 700.0)
    s = 1.0 / (1.0 + np.exp(z))
    ds = s * (1.0 - s)
    d = b1 - b2
    return np.column_stack([s, 1.0 - s, -d * ds / a, -d * ds * (np.asarray(x) - b3) / a**2 * np.sign(b4 or 1.0)])


@dataclass(frozen=True)
class LogisticFit:
    """Parameters of a fitted 4-parameter logistic and whether the fit converged."""

    b1: float
    b2: float
    b3: float
    b4: float
    ok: bool
    message: str = ""

    def __call__(self, x) -> np.ndarray:
        """Map metric values ``x`` onto the human scale."""
        if not self.ok and not np.isfinite(self.b1):
            return np.full(np.shape(x), np.nan)
        return logistic4(x, self.b1, self.b2, self.b3, self.b4)

    @property
    def params(self) -> tuple[float, float, float, float]:
        """The parameters as a tuple ``(b1, b2, b3, b4)``."""
        return (self.b1, self.b2, self.b3, self.b4)


def fit_logistic(x, y, *, maxfev: int = 2000) -> LogisticFit:
    """Fit ``y ~ logistic4(x)`` by least squares with a robust initialisation.

    ``x`` is standardised first so that the optimiser works on a unit scale
    whatever the metric's range (CLIP scores near 0.3, FVD in the thousands);
    the parameters are converted back afterwards. Starting values: asymptotes
    at the extremes of ``y``, midpoint at the median of ``x``, scale at the
    spread of ``x``. If ``scipy.optimize.curve_fit`` fails from that start a
    few other scales are tried; if all fail, a straight-line fit (a logistic
    with a very wide scale is nearly linear) is returned with ``ok=False`` so
    the caller can report it instead of crashing. A constant ``x`` cannot be
    fitted and yields NaN parameters.
    """
    xa, ya = as_pair(x, y)
    nan = float("nan")
    if xa.size < 4 or np.ptp(xa) == 0 or np.ptp(ya) == 0:
        return LogisticFit(nan, nan, nan, nan, False, "too few distinct values to fit")
    mu = float(xa.mean())
    sd = float(xa.std()) or 1.0
    xs = (xa - mu) / sd
    ymax, ymin = float(ya.max()), float(ya.min())
    best = None
    for scale in (1.0, 0.3, 3.0, 10.0):
        p0 = [ymax, ymin, float(np.median(xs)), scale]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p, _ = optimize.curve_fit(logistic4, xs, ya, p0=p0, jac=_logistic4_jac, maxfev=maxfev)
        except (RuntimeError, ValueError, optimize.OptimizeWarning):
            continue
        if not np.all(np.isfinite(p)):
            continue
        sse = float(np.sum((logistic4(xs, *p) - ya) ** 2))
        if best is None or sse < best[1]:
            best = (p, sse)
        # The first successful start is almost always the optimum; the
        # others exist for the awkward cases, so stop early.
        break
    if best is None:
        slope, intercept = np.polyfit(xs, ya, 1)
        # Express the line as a very wide logistic centred at 0 so that
        # callers can still use the LogisticFit interface.
        width = 1e3
        b1 = intercept + slope * 2 * width
        b2 = intercept - slope * 2 * width
        return LogisticFit(b1, b2, mu, width * sd, False, "curve_fit did not converge; linear fallback")
    b1, b2, b3, b4 = (float(v) for v in best[0])
    return LogisticFit(b1, b2, b3 * sd + mu, abs(b4) * sd, True, "")


def rmse(pred, y) -> float:
    """Root mean squared error between ``pred`` and ``y`` (same units as ``y``)."""
    pa, ya = as_pair(pred, y, name_x="pred", name_y="y")
    if pa.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((pa - ya) ** 2)))
