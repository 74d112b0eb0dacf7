"""Paired comparison of two metrics: bootstrap, Williams' t, Steiger's Z."""

from __future__ import annotations

import math

import numpy as np
import pytest

from videojury.stats.significance import compare_metrics, paired_bootstrap, steiger_z, williams_test


def test_williams_hand_computed_value():
    # r_ya = .5, r_yb = .3, r_ab = .4, n = 100, worked through by hand:
    # |R| = 1 - .25 - .09 - .16 + 2*.5*.3*.4 = .62; rbar = .4
    # t = .2 * sqrt(99 * 1.4 / (2*99/97*.62 + .16*.216)) = 1.9796...
    res = williams_test(0.5, 0.3, 0.4, 100)
    detR = 0.62
    expected = 0.2 * math.sqrt(99 * 1.4 / (2 * 99 / 97 * detR + 0.16 * 0.6**3))
    assert res["t"] == pytest.approx(expected, rel=1e-12)
    assert res["df"] == 97
    assert 0.04 < res["p"] < 0.06


def test_steiger_z_symmetry_and_zero():
    a = steiger_z(0.6, 0.4, 0.5, 200)
    b = steiger_z(0.4, 0.6, 0.5, 200)
    assert a["z"] == pytest.approx(-b["z"])
    assert a["p"] == pytest.approx(b["p"])
    assert steiger_z(0.5, 0.5, 0.3, 50)["z"] == 0.0


def test_williams_and_steiger_calibrated_under_null():
    # Two metrics equally related to y: ~5% of tests may reject at 0.05.
    rng = np.random.default_rng(0)
    n, sims = 120, 300
    rej_w = rej_s = 0
    for _ in range(sims):
        y = rng.normal(size=n)
        a = y + rng.normal(size=n)
        b = y + rng.normal(size=n)
        r = np.corrcoef([y, a, b])
        rej_w += williams_test(r[0, 1], r[0, 2], r[1, 2], n)["p"] < 0.05
        rej_s += steiger_z(r[0, 1], r[0, 2], r[1, 2], n)["p"] < 0.05
    assert 0.02 <= rej_w / sims <= 0.09
    assert 0.02 <= rej_s / sims <= 0.09


def test_paired_bootstrap_detects_better_metric():
    rng = np.random.default_rng(1)
    y = rng.normal(size=400)
    good = y + rng.normal(0, 0.5, size=400)
    bad = y + rng.normal(0, 1.5, size=400)
    res = paired_bootstrap(y, good, bad, statistic="srcc", n_resamples=500, seed=0)
    assert res["diff"] > 0.1
    assert res["ci_low"] > 0
    assert res["p"] < 0.01
    swapped = paired_bootstrap(y, bad, good, statistic="srcc", n_resamples=500, seed=0)
    assert swapped["diff"] == pytest.approx(-res["diff"])
    assert swapped["ci_high"] == pytest.approx(-res["ci_low"])


def test_paired_bootstrap_identical_metrics():
    rng = np.random.default_rng(2)
    y = rng.normal(size=100)
    a = y + rng.normal(size=100)
    for stat in ("srcc", "plcc", "krcc"):
        res = paired_bootstrap(y, a, a, statistic=stat, n_resamples=200, seed=1)
        assert res["diff"] == 0
        assert res["p"] == 1.0


def test_compare_metrics_reports_all_tests():
    rng = np.random.default_rng(3)
    y = rng.normal(size=300)
    a = y + rng.normal(0, 0.7, size=300)
    b = y + rng.normal(0, 1.0, size=300)
    rows = compare_metrics(y, a, b, n_resamples=300, seed=0)
    assert [r["statistic"] for r in rows] == ["srcc", "plcc"]
    for r in rows:
        for key in ("diff", "ci_low", "ci_high", "p", "williams_t", "williams_p", "steiger_z", "steiger_p", "r_ab"):
            assert np.isfinite(r[key]), key
        # The two parametric tests and the bootstrap agree on the direction.
        assert np.sign(r["diff"]) == np.sign(r["williams_t"]) == np.sign(r["steiger_z"])
