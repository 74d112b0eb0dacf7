"""The vectorised bootstrap: exactness, linearisation, determinism and coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from videojury.stats.bootstrap import (
    Resampler,
    bootstrap_correlations,
    concordance_scores,
    kendall_statistic,
    model_level_statistics,
    pearson_statistic,
    spearman_statistic,
)


def _expanded(W_row, x, y):
    idx = np.repeat(np.arange(x.size), W_row.astype(int))
    return x[idx], y[idx]


def test_weights_are_multinomial_resamples_and_seeded():
    r1 = np.vstack(list(Resampler(50, n_resamples=30, seed=3).blocks()))
    r2 = np.vstack(list(Resampler(50, n_resamples=30, seed=3, block=7).blocks()))
    assert r1.shape == (30, 50)
    assert np.all(r1.sum(axis=1) == 50)
    # Same seed, different block size -> the same stream of resamples.
    assert np.array_equal(r1, r2)
    r3 = np.vstack(list(Resampler(50, n_resamples=30, seed=4).blocks()))
    assert not np.array_equal(r1, r3)


def test_cluster_weights_copy_cluster_multiplicity():
    clusters = np.repeat(np.arange(10), 3)  # 10 prompts x 3 videos
    W = next(Resampler(30, n_resamples=20, seed=0, clusters=clusters).blocks())
    for row in W:
        assert np.all(row.reshape(10, 3) == row.reshape(10, 3)[:, :1])
        assert row.sum() == 30


def test_exact_block_statistics_equal_scipy_on_expanded_resamples():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 6, size=80).astype(float)  # ties in x
    y = np.round(x + rng.normal(size=80), 1)
    W = next(Resampler(80, n_resamples=6, seed=2).blocks())
    sp = spearman_statistic(x, y, exact=True).fn(W)
    kd = kendall_statistic(x, y, exact=True).fn(W)
    pe = pearson_statistic(x, y)
    pv = pe.finish(W @ pe.features)
    for r in range(W.shape[0]):
        xr, yr = _expanded(W[r], x, y)
        assert sp[r] == pytest.approx(stats.spearmanr(xr, yr).statistic, abs=1e-12)
        assert kd[r] == pytest.approx(stats.kendalltau(xr, yr).statistic, abs=1e-12)
        assert pv[r] == pytest.approx(stats.pearsonr(xr, yr).statistic, abs=1e-10)


def test_concordance_scores_match_brute_force():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 7, size=150).astype(float)
    y = rng.integers(0, 4, size=150).astype(float)
    c, tx, ty = concordance_scores(x, y)
    brute = np.array([np.sum(np.sign(x[i] - x) * np.sign(y[i] - y)) for i in range(x.size)])
    assert np.array_equal(c, brute)
    assert c.sum() / np.sqrt(tx.sum() * ty.sum()) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)


def test_linearised_rank_bootstrap_agrees_with_exact():
    # The large-n path drops a second-order term; at n = 3000 its effect on the
    # interval must be a small fraction of the interval's width.
    rng = np.random.default_rng(4)
    n = 3000
    x = rng.normal(size=n)
    y = np.round(x + rng.normal(size=n), 1)
    exact = bootstrap_correlations(x, y, statistics=("srcc", "krcc"), n_resamples=400, seed=5,
                                   exact_max_n=n, krcc_exact_max_n=n)
    linear = bootstrap_correlations(x, y, statistics=("srcc", "krcc"), n_resamples=400, seed=5,
                                    exact_max_n=0, krcc_exact_max_n=0)
    assert exact.methods == {"srcc": "exact", "krcc": "exact"}
    assert linear.methods == {"srcc": "linearised", "krcc": "linearised"}
    for k in ("srcc", "krcc"):
        width = exact.ci[k][1] - exact.ci[k][0]
        assert abs(exact.ci[k][0] - linear.ci[k][0]) < 0.05 * width
        assert abs(exact.ci[k][1] - linear.ci[k][1]) < 0.05 * width
        # Resample by resample, too (same weights on both paths).
        assert np.max(np.abs(exact.samples[k] - linear.samples[k])) < 0.2 * width


def test_deterministic_given_seed():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=200), rng.normal(size=200)
    a = bootstrap_correlations(x, y, n_resamples=100, seed=11)
    b = bootstrap_correlations(x, y, n_resamples=100, seed=11)
    assert a.ci == b.ci


def test_model_level_statistic_matches_direct_computation():
    rng = np.random.default_rng(12)
    models = np.repeat([f"m{i}" for i in range(6)], 20)
    x = rng.normal(size=120) + np.repeat(np.arange(6), 20) * 0.3
    y = rng.normal(size=120) + np.repeat(np.arange(6), 20) * 0.2
    st = model_level_statistics(x, y, models)
    W = next(Resampler(120, n_resamples=5, seed=1).blocks())
    got = st.fn(W)
    for r in range(5):
        xr, yr = _expanded(W[r], x, y)
        mr = np.repeat(models, W[r].astype(int))
        mx = np.array([xr[mr == m].mean() for m in sorted(set(models))])
        my = np.array([yr[mr == m].mean() for m in sorted(set(models))])
        assert got[r, 0] == pytest.approx(stats.spearmanr(mx, my).statistic, abs=1e-10)
        assert got[r, 1] == pytest.approx(stats.kendalltau(mx, my).statistic, abs=1e-10)
        assert got[r, 2] == pytest.approx(stats.pearsonr(mx, my).statistic, abs=1e-10)


def test_ci_coverage_close_to_nominal():
    """95% percentile CIs cover the population correlation ~95% of the time.

    Bivariate normal with rho = 0.6, n = 150: the population values are
    PLCC = rho, SRCC = (6/pi) asin(rho/2), KRCC = (2/pi) asin(rho).
    Measured: PLCC 96.7%, SRCC 97.5%, KRCC 97.5% over 120 data sets.
    """
    rho, n, sims = 0.6, 150, 120
    truth = {
        "plcc": rho,
        "srcc": 6 / np.pi * np.arcsin(rho / 2),
        "krcc": 2 / np.pi * np.arcsin(rho),
    }
    cov = np.array([[1, rho], [rho, 1]])
    rng = np.random.default_rng(2024)
    hits = {k: 0 for k in truth}
    for s in range(sims):
        xy = rng.multivariate_normal([0, 0], cov, size=n)
        res = bootstrap_correlations(xy[:, 0], xy[:, 1], n_resamples=300, seed=s)
        for k, t in truth.items():
            lo, hi = res.ci[k]
            hits[k] += lo <= t <= hi
    coverage = {k: v / sims for k, v in hits.items()}
    for k, c in coverage.items():
        assert 0.88 <= c <= 0.99, (k, coverage)
