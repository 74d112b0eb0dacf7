"""BT.500 screening, z-scores, MOS with CIs, split-half reliability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from videojury.errors import InputError
from videojury.human.mos import bt500_screen, compute_mos, condition_stats, zscore_ratings
from videojury.human.reliability import spearman_brown, split_half_reliability

N_HONEST = 20


def simulate_panel(seed: int, n_videos: int = 120, constant_rater: bool = False):
    """True quality on a 1-5 Likert scale, 20 honest raters (own bias + noise),
    two careless raters answering uniformly at random, and one extreme
    responder who only ever uses the end points (1 if they dislike, 5 if they
    like). Optionally a rater who answers 5 to everything."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(1.5, 4.5, n_videos)
    rows = []
    for r in range(N_HONEST):
        bias = rng.normal(0, 0.3)
        s = np.clip(np.round(q + bias + rng.normal(0, 0.6, n_videos)), 1, 5)
        rows += [(f"honest{r:02d}", f"v{i:03d}", s[i]) for i in range(n_videos)]
    for r in range(2):
        s = rng.integers(1, 6, n_videos)
        rows += [(f"careless{r}", f"v{i:03d}", s[i]) for i in range(n_videos)]
    perceived = q + rng.normal(0, 0.6, n_videos)
    s = np.where(perceived < 3.0, 1, 5)
    rows += [("extreme", f"v{i:03d}", s[i]) for i in range(n_videos)]
    if constant_rater:
        rows += [("always5", f"v{i:03d}", 5) for i in range(n_videos)]
    df = pd.DataFrame(rows, columns=["rater", "video", "score"])
    return pd.Series(q, index=[f"v{i:03d}" for i in range(n_videos)]), df


def test_screening_rejects_planted_raters_and_keeps_honest():
    truth, df = simulate_panel(0)
    res = compute_mos(df)
    assert set(res.rejected) == {"careless0", "careless1", "extreme"}
    honest = res.raters[res.raters["rater"].str.startswith("honest")]
    assert len(honest) == N_HONEST and not honest["rejected"].any()
    # Every rejection carries its evidence.
    rej = res.raters[res.raters["rejected"]]
    assert (rej["outlier_ratio"] > 0.05).all() and (rej["asymmetry"] < 0.3).all()
    assert rej["reason"].str.contains("BT.500").all()


def test_screening_rates_over_twenty_panels():
    """Not one lucky seed: rejection rates over 20 simulated panels.

    Measured: both careless raters rejected in 18/20 panels, the extreme
    responder in 11/20 (its deviations are often one-sided, which BT.500's
    symmetry test deliberately tolerates), an honest rater in 1/20 (of 400
    honest rater-panels); the screened MOS beats the plain mean in 20/20.
    """
    careless = extreme = honest = better = 0
    for seed in range(20):
        truth, df = simulate_panel(seed)
        res = compute_mos(df)
        rej = set(res.rejected)
        careless += {"careless0", "careless1"} <= rej
        extreme += "extreme" in rej
        honest += sum(r.startswith("honest") for r in rej)
        mos = res.mos.set_index("video")["mos"].loc[truth.index]
        naive = df.groupby("video")["score"].mean().loc[truth.index]
        better += stats.spearmanr(mos, truth).statistic > stats.spearmanr(naive, truth).statistic
    assert careless >= 17
    assert extreme >= 9
    assert honest <= 2
    assert better == 20


def test_constant_rater_is_excluded_with_reason():
    # Always answering 5 is a one-sided bias, which BT.500 deliberately keeps
    # (|P-Q|/(P+Q) = 1); it cannot be z-scored, so it is excluded for that.
    truth, df = simulate_panel(0, constant_rater=True)
    res = compute_mos(df)
    assert "always5" in res.rejected
    row = res.raters[(res.raters["rater"] == "always5") & res.raters["rejected"]]
    assert row["reason"].str.contains("no variance").all()


def _bt500_by_hand(df):
    """A deliberately plain re-implementation of BT.500 2.3.1 to check against."""
    out = {}
    for rater in df["rater"].unique():
        P = Q = N = 0
        for _, r in df[df["rater"] == rater].iterrows():
            u = df[df["video"] == r["video"]]["score"].to_numpy(float)
            mean, sd = u.mean(), u.std(ddof=1)
            b2 = np.mean((u - mean) ** 4) / np.mean((u - mean) ** 2) ** 2
            k = 2.0 if 2 <= b2 <= 4 else np.sqrt(20)
            N += 1
            P += r["score"] >= mean + k * sd
            Q += r["score"] <= mean - k * sd
        out[rater] = (P, Q, N)
    return out


def test_bt500_counts_by_hand():
    # Twelve raters with a near-normal spread on three videos (beta2 in [2, 4],
    # so k = 2), plus rater d who is far above on v1 and far below on v2.
    base = [1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 1, 3]
    rows = [(f"r{k}", v, float(s)) for v in ("v1", "v2", "v3") for k, s in enumerate(base)]
    rows += [("d", "v1", 7.0), ("d", "v2", -1.0), ("d", "v3", 3.0)]
    df = pd.DataFrame(rows, columns=["rater", "video", "score"])
    cs = condition_stats(df).set_index("video")
    v1 = np.array(base + [7.0])
    m = v1 - v1.mean()
    assert cs.loc["v1", "beta2"] == pytest.approx(np.mean(m**4) / np.mean(m**2) ** 2)
    assert 2 <= cs.loc["v1", "beta2"] <= 4 and cs.loc["v1", "k"] == 2.0
    assert cs.loc["v1", "std"] == pytest.approx(v1.std(ddof=1))
    scr = bt500_screen(df).set_index("rater")
    hand = _bt500_by_hand(df)
    for rater, (P, Q, N) in hand.items():
        assert (scr.loc[rater, "P"], scr.loc[rater, "Q"], scr.loc[rater, "N"]) == (P, Q, N)
    assert hand["d"] == (1, 1, 3)
    # (P+Q)/N = 2/3 > 0.05 and |P-Q|/(P+Q) = 0 < 0.3: rejected; nobody else is.
    assert scr.loc["d", "rejected"]
    assert not scr.drop(index="d")["rejected"].any()


def test_bt500_on_simulated_panel_matches_plain_implementation():
    truth, df = simulate_panel(5, n_videos=10)
    scr = bt500_screen(df).set_index("rater")
    for rater, (P, Q, N) in _bt500_by_hand(df).items():
        assert (scr.loc[rater, "P"], scr.loc[rater, "Q"], scr.loc[rater, "N"]) == (P, Q, N)


def test_zscores_and_rescaling():
    df = pd.DataFrame({"rater": ["a"] * 3 + ["b"] * 3, "video": ["x", "y", "z"] * 2,
                       "score": [1.0, 2.0, 3.0, 10.0, 30.0, 50.0]})
    z = zscore_ratings(df, rescale=False)
    assert np.allclose(z, [-1, 0, 1, -1, 0, 1])
    # Rescaled: 100 (z + 3) / 6, so the two raters' opposite scales agree exactly.
    res = compute_mos(df, screen=False)
    m = res.mos.set_index("video")
    assert m.loc["x", "mos"] == pytest.approx(100 * 2 / 6)
    assert m.loc["y", "mos"] == pytest.approx(50.0)
    assert m.loc["x", "std"] == pytest.approx(0.0)
    assert m.loc["x", "mos_raw"] == pytest.approx(5.5)


def test_t_confidence_interval():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"rater": [f"r{i}" for i in range(8)], "video": "v", "score": rng.normal(size=8)})
    res = compute_mos(df, screen=False, zscore=False)
    row = res.mos.iloc[0]
    s = df["score"]
    half = stats.t.ppf(0.975, 7) * s.std(ddof=1) / np.sqrt(8)
    assert row["n"] == 8
    assert row["ci_low"] == pytest.approx(s.mean() - half)
    assert row["ci_high"] == pytest.approx(s.mean() + half)


def test_dimensions_are_separate_and_default():
    truth, df = simulate_panel(0, n_videos=40)
    a = df.assign(dimension="perception")
    b = df.assign(dimension="correspondence", score=6 - df["score"])
    res = compute_mos(pd.concat([a, b]))
    assert set(res.mos["dimension"]) == {"perception", "correspondence"}
    assert len(res.mos) == 80
    assert compute_mos(df).mos["dimension"].unique().tolist() == ["overall"]


def test_bad_scores_raise_input_error_naming_row():
    df = pd.DataFrame({"rater": ["a", "b"], "video": ["x", "x"], "score": [1.0, np.nan]})
    with pytest.raises(InputError, match="row 2: field 'score'"):
        compute_mos(df)


def test_split_half_reliability_tracks_noise_and_is_seeded():
    truth, df = simulate_panel(3)
    honest = df[df["rater"].str.startswith("honest")]
    rel = split_half_reliability(honest, n_splits=40, seed=1)[0]
    assert rel.n_raters == N_HONEST and rel.n_videos == 120
    assert 0.9 < rel.srcc_full <= 1.0
    assert rel.srcc_full == pytest.approx(np.mean(spearman_brown(np.array([rel.srcc_half]))), abs=0.02)
    again = split_half_reliability(honest, n_splits=40, seed=1)[0]
    assert np.array_equal(rel.values, again.values)
    # A noisier panel is less reliable.
    rng = np.random.default_rng(0)
    noisy = honest.assign(score=honest["score"] + rng.normal(0, 2, len(honest)))
    assert split_half_reliability(noisy, n_splits=40, seed=1)[0].srcc_full < rel.srcc_full


def test_spearman_brown():
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    assert spearman_brown(0.0) == 0.0
    assert spearman_brown(1.0) == 1.0


def test_mos_cli_reliability_excludes_a_rater_only_where_they_were_excluded(tmp_path):
    # Rater "flat" gives one constant score in "motion" (excluded there: no
    # variance) but rates "quality" normally and is in its MOS; the quality
    # reliability must be computed on the same panel, not without "flat".
    import json

    from videojury.cli import main

    rng = np.random.default_rng(0)
    q = rng.normal(size=12)
    rows = []
    for r in range(5):
        for i in range(12):
            rows.append({"rater": f"r{r}", "video": f"v{i}", "dimension": "quality", "score": q[i] + rng.normal(0, .3)})
            rows.append({"rater": f"r{r}", "video": f"v{i}", "dimension": "motion",
                         "score": 3.0 if r == 0 else q[i] + rng.normal(0, .3)})
    pd.DataFrame(rows).replace({"rater": {"r0": "flat"}}).to_csv(tmp_path / "r.csv", index=False)
    res = compute_mos(pd.read_csv(tmp_path / "r.csv"), screen=False)
    assert res.excluded == [("flat", "motion")]
    assert main(["mos", str(tmp_path / "r.csv"), "--no-screen", "--splits", "5", "--scale", "any",
                 "-o", str(tmp_path / "m.csv")]) == 0
    rel = {r["dimension"]: r for r in json.loads((tmp_path / "m.summary.json").read_text())["reliability"]}
    assert pd.read_csv(tmp_path / "m.csv").query("dimension == 'quality'")["n"].eq(5).all()
    assert rel["quality"]["n_raters"] == 5 and rel["motion"]["n_raters"] == 4
