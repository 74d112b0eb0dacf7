"""Agreement statistics on arrays: the instance, model and pair levels.

* :func:`correlate` - SRCC, KRCC, PLCC raw and after the VQEG 4-parameter
  logistic, RMSE after the fit, with seeded bootstrap CIs, for one pair of
  arrays.
* :func:`model_level` - average per T2V model, then correlate the model
  means (LOVE's model-level protocol), with CIs from resampling videos.
* :func:`prompt_pairs` / :func:`pair_accuracy` - share of pairs of videos
  (same prompt with distinct MOS, or explicit human preferences) that the
  metric orders like people do; metric ties counted separately.

Scores come already oriented higher-is-better (the table assembly in
:mod:`videojury.analysis.agreement` negates lower-is-better fields). The
``_setup`` helpers return point estimates and the bootstrap statistics to
evaluate, so the table assembly can share one set of resamples between
fields with the same usable rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..stats.bootstrap import (
    LinearStatistic,
    bootstrap_statistics,
    kendall_statistic,
    model_level_statistics,
    pearson_statistic,
    percentile_ci,
    rmse_statistic,
    spearman_statistic,
)
from ..stats.correlation import fit_logistic, krcc, plcc, rmse, srcc

__all__ = ["correlate", "model_level", "pair_accuracy", "prompt_pairs"]


def _instance_point(x: np.ndarray, y: np.ndarray) -> tuple[dict, object]:
    out: dict = {"n": int(x.size)}
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        for k in ("srcc", "krcc", "plcc", "plcc_fit", "srcc_fit", "krcc_fit", "rmse_fit"):
            out[k] = float("nan")
        out["fit_ok"] = False
        return out, None
    out["srcc"] = srcc(x, y)
    out["krcc"] = krcc(x, y)
    out["plcc"] = plcc(x, y)
    fit = fit_logistic(x, y)
    fx = fit(x)
    if np.all(np.isfinite(fx)) and np.ptp(fx) > 0:
        out["plcc_fit"] = plcc(fx, y)
        # The logistic is monotone, so these equal the raw values unless the
        # fit saturates and creates ties; reported so that is visible.
        out["srcc_fit"] = srcc(fx, y)
        out["krcc_fit"] = krcc(fx, y)
        out["rmse_fit"] = rmse(fx, y)
    else:
        out.update(plcc_fit=float("nan"), srcc_fit=float("nan"), krcc_fit=float("nan"), rmse_fit=float("nan"))
        fit = None
    out["fit_ok"] = bool(fit is not None and fit.ok)
    return out, fit


def _instance_statistics(x, y, fit, *, exact_max_n, krcc_exact_max_n, prefix="") -> dict:
    n = x.size
    sts = {
        prefix + "srcc": spearman_statistic(x, y, exact=n <= exact_max_n),
        prefix + "krcc": kendall_statistic(x, y, exact=n <= krcc_exact_max_n),
        prefix + "plcc": pearson_statistic(x, y),
    }
    if fit is not None:
        fx = fit(x)
        sts[prefix + "plcc_fit"] = pearson_statistic(fx, y)
        sts[prefix + "rmse_fit"] = rmse_statistic(fx, y)
    return sts


def _instance_setup(x: np.ndarray, y: np.ndarray, exact_max_n: int, krcc_exact_max_n: int, want_ci: bool):
    """Point estimates and (if ``want_ci``) the bootstrap statistics to evaluate."""
    row, fit = _instance_point(x, y)
    n = x.size
    row["srcc_method"] = "exact" if n <= exact_max_n else "linearised"
    row["krcc_method"] = "exact" if n <= krcc_exact_max_n else "linearised"
    sts = {}
    if want_ci and n >= 3 and math.isfinite(row.get("srcc", float("nan"))):
        sts = _instance_statistics(x, y, fit, exact_max_n=exact_max_n, krcc_exact_max_n=krcc_exact_max_n)
    return row, sts


def _model_setup(x: np.ndarray, y: np.ndarray, models, want_ci: bool):
    """Per-model means, point estimates and (if ``want_ci``) the bootstrap statistic."""
    g = pd.Series(np.asarray(models, dtype=object)).astype(str).to_numpy()
    labels, codes = np.unique(g, return_inverse=True)
    codes = codes.ravel()
    cnt = np.bincount(codes, minlength=labels.size)
    means = pd.DataFrame({
        "model": labels,
        "metric": np.bincount(codes, weights=x, minlength=labels.size) / cnt,
        "human": np.bincount(codes, weights=y, minlength=labels.size) / cnt,
        "n_videos": cnt,
    })
    row: dict = {"n": int(len(means))}
    mx, my = means["metric"].to_numpy(), means["human"].to_numpy()
    st = None
    if len(means) >= 3 and np.ptp(mx) > 0 and np.ptp(my) > 0:
        row.update(srcc=srcc(mx, my), krcc=krcc(mx, my), plcc=plcc(mx, my))
        if len(means) >= 10:
            # A 4-parameter curve through fewer points is mostly noise.
            fit = fit_logistic(mx, my)
            fx = fit(mx)
            if np.all(np.isfinite(fx)) and np.ptp(fx) > 0:
                row.update(plcc_fit=plcc(fx, my), srcc_fit=srcc(fx, my), krcc_fit=krcc(fx, my),
                           rmse_fit=rmse(fx, my), fit_ok=fit.ok)
        if want_ci:
            st = model_level_statistics(x, y, g)
    else:
        row.update(srcc=np.nan, krcc=np.nan, plcc=np.nan)
    return row, st, means


def _fill_ci(row: dict, samples: dict, prefix: str, confidence: float) -> None:
    for k, v in samples.items():
        if not k.startswith(prefix):
            continue
        name = k[len(prefix):]
        if name == "model":
            for j, stat in enumerate(("srcc", "krcc", "plcc")):
                row[stat + "_low"], row[stat + "_high"] = percentile_ci(v[:, j], confidence)
        else:
            row[name + "_low"], row[name + "_high"] = percentile_ci(v, confidence)


def correlate(
    x,
    y,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Sequence | np.ndarray | None = None,
    confidence: float = 0.95,
    exact_max_n: int = 2_000,
    krcc_exact_max_n: int = 2_000,
) -> dict:
    """SRCC, KRCC, PLCC (raw and after the 4-parameter logistic) and RMSE with CIs.

    ``x`` are metric scores (already oriented higher-is-better) and ``y`` the
    human scores. Returns a flat dict with the point estimates, ``*_low`` /
    ``*_high`` percentile bootstrap bounds (``n_resamples=0`` skips the
    bootstrap), ``fit_ok`` and the methods used for the rank statistics.
    SRCC is exact per resample up to ``exact_max_n`` items, KRCC up to
    ``krcc_exact_max_n``; above that, the linearised bootstrap is used (see
    :mod:`videojury.stats.bootstrap`).
    """
    xa = np.asarray(x, float)
    ya = np.asarray(y, float)
    row, sts = _instance_setup(xa, ya, exact_max_n, krcc_exact_max_n, bool(n_resamples))
    if sts:
        samp = bootstrap_statistics(xa.size, sts, n_resamples=n_resamples, seed=seed, clusters=clusters)
        _fill_ci(row, samp, "", confidence)
    return row


def model_level(
    x,
    y,
    models,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Sequence | np.ndarray | None = None,
    confidence: float = 0.95,
) -> dict:
    """Correlate per-model mean metric scores with per-model mean human scores.

    Every T2V model's videos are averaged (metric and MOS alike) and SRCC,
    KRCC and PLCC are taken across the models, as in LOVE's model-level
    leaderboard. CIs resample videos (or ``clusters``) and recompute the
    means, so they reflect how much the model ranking depends on which
    videos were generated - not uncertainty from the choice of models.
    Also returns the per-model means as ``row["models"]``.
    """
    xa = np.asarray(x, float)
    ya = np.asarray(y, float)
    row, st, means = _model_setup(xa, ya, models, bool(n_resamples))
    if st is not None:
        samp = bootstrap_statistics(xa.size, {"model": st}, n_resamples=n_resamples, seed=seed, clusters=clusters)
        _fill_ci(row, samp, "", confidence)
    row["models"] = means
    return row


def prompt_pairs(groups, mos) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs of items in the same group (prompt) whose human scores differ.

    Returns ``(better, worse, group_code)``: item indices oriented so that
    ``mos[better] > mos[worse]``, and the group each pair came from. Built
    without a Python loop over groups (one pass per distinct group size).
    """
    g = pd.Series(np.asarray(groups, dtype=object)).astype(str)
    codes, _ = pd.factorize(g)
    m = np.asarray(mos, float)
    order = np.argsort(codes, kind="mergesort")
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    sizes = np.diff(np.r_[starts, sc.size])
    A, B, G = [], [], []
    for s in np.unique(sizes):
        if s < 2:
            continue
        st = starts[sizes == s]
        ia, ib = np.triu_indices(s, 1)
        a = order[(st[:, None] + ia[None, :]).ravel()]
        b = order[(st[:, None] + ib[None, :]).ravel()]
        A.append(a)
        B.append(b)
        G.append(np.repeat(sc[st], ia.size))
    if not A:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    a, b, gg = np.concatenate(A), np.concatenate(B), np.concatenate(G)
    keep = m[a] != m[b]
    a, b, gg = a[keep], b[keep], gg[keep]
    swap = m[a] < m[b]
    better = np.where(swap, b, a)
    worse = np.where(swap, a, b)
    return better, worse, gg


def pair_accuracy(
    x,
    better: np.ndarray,
    worse: np.ndarray,
    *,
    clusters: np.ndarray | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Share of human-ordered pairs ``(better, worse)`` that the metric orders the same way.

    ``x`` are metric scores (higher-is-better orientation). A pair where the
    metric gives both videos the same score is a *tie*: it does not count
    as agreement (``pair_acc = agree / n_pairs``), is reported as
    ``pair_ties``, and ``pair_acc_excl_ties = agree / (n_pairs - ties)`` is
    given too. The CI resamples ``clusters`` (one label per pair, e.g. the
    prompt: pairs of one prompt share videos and are not independent) or
    pairs when none are given.
    """
    xa = np.asarray(x, float)
    d = xa[better] - xa[worse]
    agree = (d > 0).astype(float)
    tie = (d == 0).astype(float)
    n = d.size
    row = {"n_pairs": int(n), "pair_ties": int(tie.sum())}
    if n == 0:
        row.update(pair_acc=np.nan, pair_acc_excl_ties=np.nan)
        return row
    row["pair_acc"] = float(agree.mean())
    nt = n - tie.sum()
    row["pair_acc_excl_ties"] = float(agree.sum() / nt) if nt else float("nan")
    if n_resamples:
        if clusters is not None:
            codes, _ = pd.factorize(pd.Series(np.asarray(clusters, dtype=object)).astype(str))
            k = int(codes.max()) + 1
            F = np.column_stack([np.bincount(codes, minlength=k), np.bincount(codes, weights=agree, minlength=k)])
        else:
            k = n
            F = np.column_stack([np.ones(n), agree])
        st = LinearStatistic(F, lambda T: T[:, 1] / T[:, 0])
        samp = bootstrap_statistics(k, {"p": st}, n_resamples=n_resamples, seed=seed)["p"]
        row["pair_acc_low"], row["pair_acc_high"] = percentile_ci(samp, confidence)
    return row
