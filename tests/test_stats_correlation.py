"""SRCC/KRCC/PLCC against scipy, the 4-parameter logistic fit, RMSE."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from videojury.stats.correlation import (
    average_ranks,
    fit_logistic,
    krcc,
    logistic4,
    plcc,
    rmse,
    srcc,
)


@pytest.mark.parametrize("seed", range(5))
def test_equal_scipy_on_random_data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=300)
    y = 0.5 * x + rng.normal(size=300)
    assert srcc(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert krcc(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert plcc(x, y) == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_equal_scipy_on_heavy_ties(seed):
    # Likert-like data: five levels on both sides, so nearly every value is tied.
    rng = np.random.default_rng(100 + seed)
    x = rng.integers(1, 6, size=200).astype(float)
    y = np.clip(x + rng.integers(-1, 2, size=200), 1, 5).astype(float)
    assert srcc(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert krcc(x, y) == pytest.approx(stats.kendalltau(x, y, variant="b").statistic, abs=1e-12)
    assert plcc(x, y) == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)
    assert np.array_equal(average_ranks(x), stats.rankdata(x))


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=3, max_size=40))
def test_property_matches_scipy_including_degenerate(pairs):
    x = np.array([p[0] for p in pairs], float)
    y = np.array([p[1] for p in pairs], float)
    ref_s = stats.spearmanr(x, y).statistic
    ref_k = stats.kendalltau(x, y).statistic
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        # Undefined for a constant side: NaN, like scipy, never a fake 0.
        assert np.isnan(srcc(x, y)) and np.isnan(krcc(x, y)) and np.isnan(plcc(x, y))
    else:
        assert srcc(x, y) == pytest.approx(ref_s, abs=1e-12)
        assert krcc(x, y) == pytest.approx(ref_k, abs=1e-12)


def test_rejects_nan_and_length_mismatch():
    with pytest.raises(ValueError, match="non-finite value at position 1"):
        srcc([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="differ in length"):
        plcc([1.0, 2.0], [1.0, 2.0, 3.0])


def test_logistic_fit_recovers_known_parameters():
    rng = np.random.default_rng(7)
    true = (80.0, 20.0, 0.3, 0.08)  # b1, b2, b3, b4 on a CLIP-like scale
    x = rng.uniform(0.0, 0.6, size=2000)
    y = logistic4(x, *true) + rng.normal(0, 1.0, size=x.size)
    fit = fit_logistic(x, y)
    assert fit.ok
    assert fit.b1 == pytest.approx(true[0], rel=0.03)
    assert fit.b2 == pytest.approx(true[1], rel=0.05)
    assert fit.b3 == pytest.approx(true[2], abs=0.01)
    assert fit.b4 == pytest.approx(true[3], rel=0.08)
    # After the fit the residual is the noise we added.
    assert rmse(fit(x), y) == pytest.approx(1.0, rel=0.06)


def test_logistic_fit_on_large_scale_metric_and_decreasing_relation():
    # FVD-like magnitudes: the internal standardisation keeps the fit stable.
    rng = np.random.default_rng(8)
    x = rng.uniform(100, 3000, size=500)
    y = logistic4(x, 10.0, 90.0, 1500.0, 300.0) + rng.normal(0, 2, size=x.size)  # b1 < b2: decreasing
    fit = fit_logistic(x, y)
    assert fit.ok
    assert plcc(fit(x), y) > 0.97
    assert fit.b3 == pytest.approx(1500.0, rel=0.05)


def test_logistic_fit_improves_plcc_on_saturating_data():
    rng = np.random.default_rng(9)
    x = rng.normal(size=1000)
    y = logistic4(3 * x, 100, 0, 0, 1) + rng.normal(0, 3, size=x.size)
    fit = fit_logistic(x, y)
    assert plcc(fit(x), y) > plcc(x, y) + 0.02


def test_logistic_fit_degenerate_input():
    fit = fit_logistic(np.ones(10), np.arange(10.0))
    assert not fit.ok and np.isnan(fit.b1)
