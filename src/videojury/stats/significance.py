"""Does metric A agree with people better than metric B on the same videos?

Two correlations that share the human scores ``y`` and are measured on the
same videos are dependent, so comparing their separate confidence
intervals is wrong (too conservative, sometimes misleading). Three tests
that respect the dependence:

* :func:`paired_bootstrap` - resample videos (or prompts) once per
  replicate, compute both metrics' SRCC/PLCC/KRCC on *that* resample, and
  read an interval and a two-sided p-value off the distribution of the
  difference. Makes no distributional assumption; works for any statistic.
* :func:`williams_test` - Williams' (1959) t-test for ``r(y,a)`` vs
  ``r(y,b)`` given ``r(a,b)``, ``df = n - 3`` (as recommended by Steiger,
  1980; used e.g. by WMT metric evaluations).
* :func:`steiger_z` - Steiger's (1980) Z on Fisher-transformed
  correlations with the pooled-r covariance term.

Williams and Steiger were derived for Pearson correlations of normal data;
applied to Spearman's rho (on ranks) they are the customary approximation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from .bootstrap import (
    bootstrap_statistics,
    kendall_statistic,
    pearson_statistic,
    percentile_ci,
    spearman_statistic,
)
from .correlation import as_pair, krcc, plcc, srcc

__all__ = ["compare_metrics", "paired_bootstrap", "steiger_z", "williams_test"]


def williams_test(r_ya: float, r_yb: float, r_ab: float, n: int) -> dict:
    """Williams' t for the difference of two dependent correlations sharing ``y``.

    ``t = (r_ya - r_yb) sqrt((n-1)(1+r_ab) / (2 (n-1)/(n-3) |R| + rbar^2 (1-r_ab)^3))``
    with ``|R| = 1 - r_ya^2 - r_yb^2 - r_ab^2 + 2 r_ya r_yb r_ab`` and
    ``rbar = (r_ya + r_yb) / 2``; two-sided p from Student's t with
    ``n - 3`` degrees of freedom. Returns ``{"t", "df", "p"}``.
    """
    if n <= 3:
        return {"t": float("nan"), "df": n - 3, "p": float("nan")}
    detR = 1 - r_ya**2 - r_yb**2 - r_ab**2 + 2 * r_ya * r_yb * r_ab
    rbar = (r_ya + r_yb) / 2.0
    den = 2.0 * (n - 1) / (n - 3) * detR + rbar**2 * (1 - r_ab) ** 3
    if den <= 0:
        return {"t": float("nan"), "df": n - 3, "p": float("nan")}
    t = (r_ya - r_yb) * math.sqrt((n - 1) * (1 + r_ab) / den)
    p = 2.0 * stats.t.sf(abs(t), n - 3)
    return {"t": float(t), "df": n - 3, "p": float(p)}


def steiger_z(r_ya: float, r_yb: float, r_ab: float, n: int) -> dict:
    """Steiger's (1980) Z for two dependent correlations sharing ``y``.

    ``Z = (atanh r_ya - atanh r_yb) sqrt(n - 3) / sqrt(2 - 2c)`` where ``c`` is
    the asymptotic correlation of the two Fisher-z values computed with the
    pooled ``rbar = (r_ya + r_yb)/2``:
    ``c = [r_ab (1 - 2 rbar^2) - rbar^2 (1 - 2 rbar^2 - r_ab^2) / 2] / (1 - rbar^2)^2``.
    Two-sided normal p-value. Returns ``{"z", "p"}``.
    """
    if n <= 3 or max(abs(r_ya), abs(r_yb)) >= 1:
        return {"z": float("nan"), "p": float("nan")}
    rbar = (r_ya + r_yb) / 2.0
    psi = r_ab * (1 - 2 * rbar**2) - 0.5 * rbar**2 * (1 - 2 * rbar**2 - r_ab**2)
    c = psi / (1 - rbar**2) ** 2
    if 2 - 2 * c <= 0:
        return {"z": float("nan"), "p": float("nan")}
    z = (math.atanh(r_ya) - math.atanh(r_yb)) * math.sqrt(n - 3) / math.sqrt(2 - 2 * c)
    return {"z": float(z), "p": float(2 * stats.norm.sf(abs(z)))}


_POINT = {"srcc": srcc, "plcc": plcc, "krcc": krcc}


def paired_bootstrap(
    y,
    a,
    b,
    *,
    statistic: str = "srcc",
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Sequence | np.ndarray | None = None,
    confidence: float = 0.95,
    exact_max_n: int = 2_000,
) -> dict:
    """Paired bootstrap of ``stat(a, y) - stat(b, y)`` on shared resamples.

    Returns the two point estimates, their difference, a percentile
    interval for the difference and a two-sided p-value
    ``min(1, 2 min(P(d* <= 0), P(d* >= 0)))`` with the usual +1 correction
    (so it is never exactly 0 with finitely many resamples). ``clusters``
    resamples whole clusters (e.g. prompts), which is right when videos of
    one prompt are not independent.
    """
    ya, aa = as_pair(y, a, name_x="y", name_y="a")
    _, ba = as_pair(y, b, name_x="y", name_y="b")
    n = ya.size
    exact = n <= exact_max_n
    if statistic == "srcc":
        sa, sb = spearman_statistic(aa, ya, exact=exact), spearman_statistic(ba, ya, exact=exact)
    elif statistic == "plcc":
        sa, sb = pearson_statistic(aa, ya), pearson_statistic(ba, ya)
    elif statistic == "krcc":
        ek = n <= min(exact_max_n, 2_000)
        sa, sb = kendall_statistic(aa, ya, exact=ek), kendall_statistic(ba, ya, exact=ek)
    else:
        raise ValueError(f"unknown statistic {statistic!r}")
    samp = bootstrap_statistics(n, {"a": sa, "b": sb}, n_resamples=n_resamples, seed=seed, clusters=clusters)
    d = samp["a"] - samp["b"]
    d = d[np.isfinite(d)]
    B = d.size
    p = min(1.0, 2.0 * min((np.sum(d <= 0) + 1) / (B + 1), (np.sum(d >= 0) + 1) / (B + 1))) if B else float("nan")
    est_a = _POINT[statistic](aa, ya)
    est_b = _POINT[statistic](ba, ya)
    lo, hi = percentile_ci(d, confidence)
    return {
        "statistic": statistic,
        "a": est_a,
        "b": est_b,
        "diff": est_a - est_b,
        "ci_low": lo,
        "ci_high": hi,
        "p": float(p),
        "n": n,
        "n_resamples": n_resamples,
    }


def compare_metrics(
    y,
    a,
    b,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Sequence | np.ndarray | None = None,
    confidence: float = 0.95,
    exact_max_n: int = 2_000,
) -> list[dict]:
    """All tests of "metric ``a`` agrees with ``y`` better than metric ``b``".

    For SRCC and PLCC: the paired bootstrap (difference, CI, p), Williams'
    t and Steiger's Z (the latter two fed with the same kind of correlation
    for ``r_ab``). Returns one dict per statistic.
    """
    out = []
    ya, aa = as_pair(y, a)
    _, ba = as_pair(y, b)
    n = ya.size
    for stat in ("srcc", "plcc"):
        res = paired_bootstrap(
            ya, aa, ba, statistic=stat, n_resamples=n_resamples, seed=seed,
            clusters=clusters, confidence=confidence, exact_max_n=exact_max_n,
        )
        r_ab = _POINT[stat](aa, ba)
        w = williams_test(res["a"], res["b"], r_ab, n)
        s = steiger_z(res["a"], res["b"], r_ab, n)
        res.update(r_ab=r_ab, williams_t=w["t"], williams_p=w["p"], steiger_z=s["z"], steiger_p=s["p"])
        out.append(res)
    return out
