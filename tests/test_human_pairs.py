"""Bradley-Terry from pairwise preferences: recovery, ties, models, bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from videojury.errors import InputError
from videojury.human.importers import load_pairs
from videojury.human.pairs import bradley_terry, fit_bt_davidson, fit_bt_mm, pairwise_scores


def _simulate(n_items=8, m=4000, tie_rate=0.0, seed=0):
    rng = np.random.default_rng(seed)
    true = np.linspace(-1.2, 1.2, n_items)
    i = rng.integers(0, n_items, m)
    j = (i + rng.integers(1, n_items, m)) % n_items
    p = 1 / (1 + np.exp(-(true[i] - true[j])))
    u = rng.random(m)
    tie = rng.random(m) < tie_rate
    o = np.where(tie, 0.5, (u < p).astype(float))
    return true, i, j, o


def test_mm_recovers_strengths_and_matches_plain_mle():
    true, i, j, o = _simulate()
    s, it, ok = fit_bt_mm(i, j, o, 8, prior=0.0)
    assert ok and it < 500
    assert np.max(np.abs(s - (true - true.mean()))) < 0.15
    # The MM fixed point is the MLE: the score equations hold (expected wins = wins).
    p = 1 / (1 + np.exp(-(s[i] - s[j])))
    exp_wins = np.bincount(i, p, 8) + np.bincount(j, 1 - p, 8)
    wins = np.bincount(i, o, 8) + np.bincount(j, 1 - o, 8)
    assert np.allclose(exp_wins, wins, atol=1e-5)


def test_prior_keeps_undefeated_items_finite():
    # Item 0 wins every game: the plain MLE would send it to +infinity.
    i = np.array([0, 0, 0, 1, 1, 2])
    j = np.array([1, 2, 3, 2, 3, 3])
    o = np.ones(6)
    s, _, ok = fit_bt_mm(i, j, o, 4, prior=1.0)
    assert ok and np.all(np.isfinite(s))
    assert list(np.argsort(-s)) == [0, 1, 2, 3]


def test_davidson_handles_ties_and_agrees_in_order():
    true, i, j, o = _simulate(tie_rate=0.3, seed=1)
    s_half, _, _ = fit_bt_mm(i, j, o, 8)
    s_dav, nu, ok = fit_bt_davidson(i, j, o, 8)
    assert ok and nu > 0.3
    assert stats.spearmanr(s_half, s_dav).statistic == pytest.approx(1.0)
    assert stats.spearmanr(s_dav, true).statistic > 0.95


def test_bootstrap_ci_covers_truth_and_table_columns():
    true, i, j, o = _simulate(m=3000, seed=2)
    w = np.where(o == 1, "a", "b")
    table, diag = bradley_terry([f"m{k}" for k in i], [f"m{k}" for k in j], w, n_resamples=200, seed=0)
    assert diag["converged"] and diag["graph_components"] == 1
    table["true"] = [true[int(x[1:])] - true.mean() for x in table["item"]]
    covered = ((table["ci_low"] <= table["true"]) & (table["true"] <= table["ci_high"])).mean()
    assert covered >= 0.75  # 8 items, 95% intervals
    assert table["rank"].tolist() == sorted(table["rank"])
    assert (table["wins"] + table["losses"] + table["ties"] == table["n"]).all()
    assert table.iloc[0]["item"] == "m7"


def test_pairwise_scores_video_and_model_levels(tmp_path):
    rng = np.random.default_rng(3)
    q = {"A": 1.0, "B": 0.0, "C": -1.0}
    rows = []
    for k in range(600):
        ma, mb = rng.choice(list(q), 2, replace=False) if k % 10 else ("A", "A")
        p = 1 / (1 + np.exp(-(q[ma] - q[mb])))
        u = rng.random()
        rows.append({"video_a": f"{ma}/a{k}.mp4", "video_b": f"{mb}/b{k}.mp4",
                     "winner": "tie" if u > 0.95 else ("a" if u < 0.95 * p else "b")})
    path = tmp_path / "pairs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    mapping = {r[s]: r[s].split("/")[0] for r in rows for s in ("video_a", "video_b")}
    pairs = load_pairs(path, video_models=mapping)
    res = pairwise_scores(pairs, n_resamples=50)
    models = res.scores[res.scores["level"] == "model"].set_index("item")
    assert models["score"]["A"] > models["score"]["B"] > models["score"]["C"]
    fit = [f for f in res.settings["fits"] if f["level"] == "model"][0]
    assert fit["dropped_same_model"] == 60
    assert set(res.scores["level"]) == {"video", "model"}


def test_load_pairs_normalises_winner_and_rejects_bad_rows(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"video_a": ["x", "x", "y"], "video_b": ["y", "z", "z"],
                  "winner": ["A", "z", "draw"]}).to_csv(path, index=False)
    p = load_pairs(path)
    assert p["winner"].tolist() == ["a", "b", "tie"]
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"video_a": ["x", "x"], "video_b": ["y", "y"], "winner": ["a", "maybe"]}).to_csv(bad, index=False)
    with pytest.raises(InputError, match="row 2: field 'winner'"):
        load_pairs(bad)
    miss = tmp_path / "miss.csv"
    pd.DataFrame({"video_a": ["x"], "winner": ["a"]}).to_csv(miss, index=False)
    with pytest.raises(InputError, match="missing column.*'video_b'"):
        load_pairs(miss)
