"""The join, instance/model/pair levels, directions and malformed input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from videojury.analysis.agreement import (
    agreement,
    correlate,
    join_scores,
    model_level,
    pair_accuracy,
    prompt_pairs,
    score_fields,
)
from videojury.errors import InputError


def _up(name):
    """Every field higher-is-better (in-memory tables carry no field metadata)."""
    return "higher"


def _human(videos, mos, dim="perception"):
    return pd.DataFrame({"video": videos, "dimension": dim, "mos": mos})


# ------------------------------------------------------------------ join


def test_join_exact_suffix_and_basename_reported():
    pred = pd.DataFrame({
        "video": ["runs/Sora/001.mp4", "/abs/data/Gen3/001.mp4", "/x/unique_name.mp4", "C:\\out\\Lavie\\002.mp4"],
        "s": [1.0, 2.0, 3.0, 4.0],
    })
    human = _human(["runs/Sora/001.mp4", "Gen3/001.mp4", "clips/unique_name.mp4", "Lavie/002.mp4"], [1, 2, 3, 4])
    joined, rep = join_scores(pred, human)
    assert rep.matched == {"exact": 1, "suffix2": 2, "basename": 1}
    assert joined.sort_values("s")["mos"].tolist() == [1, 2, 3, 4]
    assert rep.unmatched_predictions == [] and rep.unmatched_human == []


def test_join_ambiguous_basename_is_not_guessed():
    # "001.mp4" exists for two models in the human file: a bare name cannot pick one.
    pred = pd.DataFrame({"video": ["/tmp/001.mp4"], "s": [1.0]})
    human = _human(["Sora/001.mp4", "Gen3/001.mp4"], [1, 2])
    with pytest.raises(InputError, match=r"no human label.*row 1.*ambiguous"):
        join_scores(pred, human)
    joined, rep = join_scores(pred, human, allow_unmatched=True)
    assert joined.empty
    assert rep.ambiguous == ["/tmp/001.mp4"]
    assert rep.unmatched_predictions == ["/tmp/001.mp4"]
    assert sorted(rep.unmatched_human) == ["Gen3/001.mp4", "Sora/001.mp4"]


def test_join_does_not_hand_a_leftover_label_to_another_models_video():
    # "A/001.mp4" is matched exactly; "B/001.mp4" has no label. Its bare name
    # must not pick "C/001.mp4" just because that is the only one left.
    pred = pd.DataFrame({"video": ["A/001.mp4", "/x/B/001.mp4"], "s": [1.0, 2.0]})
    human = _human(["A/001.mp4", "C/001.mp4"], [1.0, 9.0])
    with pytest.raises(InputError, match=r"no human label.*row 2"):
        join_scores(pred, human)
    joined, rep = join_scores(pred, human, allow_unmatched=True)
    assert joined["video"].tolist() == ["A/001.mp4"]
    assert rep.unmatched_predictions == ["/x/B/001.mp4"]
    assert rep.unmatched_human == ["C/001.mp4"]


def test_unmatched_prediction_raises_naming_row_and_is_reported_when_allowed():
    pred = pd.DataFrame({"video": ["a.mp4", "b.mp4", "c.mp4"], "s": [1.0, 2.0, 3.0]})
    human = _human(["a.mp4", "c.mp4", "d.mp4"], [1, 3, 4])
    with pytest.raises(InputError, match=r"1 video\(s\).*field 'video'.*row 2 \('b.mp4'\)"):
        join_scores(pred, human)
    res = agreement(pred, human, directions=_up, allow_unmatched=True, n_resamples=0, levels=("instance",))
    assert res.join.unmatched_predictions == ["b.mp4"]
    assert res.join.unmatched_human == ["d.mp4"]
    assert any("no human label" in n for n in res.notes)


def test_duplicate_prediction_video_is_an_error():
    pred = pd.DataFrame({"video": ["a.mp4", "a.mp4"], "s": [1.0, 2.0]})
    with pytest.raises(InputError, match="row 2: video 'a.mp4' appears more than once"):
        join_scores(pred, _human(["a.mp4"], [1.0]))


# ------------------------------------------------------------------ malformed input


def _toy(n=30, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=n)
    pred = pd.DataFrame({"video": [f"v{i}.mp4" for i in range(n)], "clip": q + rng.normal(0, 0.5, n),
                         "error": None})
    human = _human(pred["video"], 50 + 10 * q)
    return pred, human


def test_nan_score_raises_naming_row_field_and_scorer_error():
    pred, human = _toy()
    pred.loc[4, "clip"] = np.nan
    pred.loc[4, "error"] = "clip: decode failed"
    with pytest.raises(InputError, match=r"row 5 \(video 'v4.mp4'\): field 'clip' is missing.*decode failed"):
        agreement(pred, human, directions=_up, n_resamples=0)
    res = agreement(pred, human, directions=_up, n_resamples=0, drop_missing=True, levels=("instance",))
    row = res.table.iloc[0]
    assert row["n"] == 29 and row["n_missing"] == 1


def test_non_numeric_score_and_missing_field():
    pred, human = _toy()
    pred["clip"] = pred["clip"].astype(object)
    pred.loc[2, "clip"] = "n/a"
    with pytest.raises(InputError, match=r"row 3 .*field 'clip' is not a number: 'n/a'"):
        agreement(pred, human, directions=_up, fields=["clip"], n_resamples=0)
    with pytest.raises(InputError, match="no column.*'fvd'"):
        agreement(pred, human, directions=_up, fields=["fvd"], n_resamples=0)
    with pytest.raises(InputError, match="missing column 'video'"):
        agreement(pred.drop(columns=["video"]), human, directions=_up, n_resamples=0)
    with pytest.raises(InputError, match="missing column 'mos'"):
        agreement(pred, human.drop(columns=["mos"]), directions=_up, n_resamples=0)


def test_default_fields_keep_a_score_column_with_a_stray_text_cell():
    # Before: the column silently dropped out of the default fields.
    pred, human = _toy()
    pred["clip"] = pred["clip"].astype(object)
    pred.loc[2, "clip"] = "NaN"  # as read from a CSV with keep_default_na=False
    pred["note"] = ["ok"] * len(pred)
    pred.loc[0, "note"] = "3"
    assert score_fields(pred) == ["clip"]
    with pytest.raises(InputError, match=r"row 3 .*field 'clip' is not a number: 'NaN'"):
        agreement(pred, human, directions=_up, n_resamples=0)


# ------------------------------------------------------------------ statistics


def test_instance_level_equals_scipy_and_direction_flip():
    pred, human = _toy(200, seed=1)
    pred["fvd"] = -pred["clip"] * 100 + 1000  # same information, lower is better
    res = agreement(pred, human, fields=["clip", "fvd"], directions={"fvd": "lower", "clip": "higher"}, n_resamples=200,
                    levels=("instance",))
    t = res.table.set_index("field")
    ref = stats.spearmanr(pred["clip"], human["mos"]).statistic
    assert t.loc["clip", "srcc"] == pytest.approx(ref, abs=1e-12)
    assert t.loc["fvd", "srcc"] == pytest.approx(ref, abs=1e-12)  # not penalised for its sign
    assert t.loc["fvd", "plcc"] == pytest.approx(t.loc["clip", "plcc"], abs=1e-12)
    assert t.loc["fvd", "direction"] == "lower"
    assert t.loc["clip", "srcc_low"] < ref < t.loc["clip", "srcc_high"]
    # Without the flip the same metric would look anti-correlated.
    raw = agreement(pred, human, directions=_up, fields=["fvd"], n_resamples=0, levels=("instance",)).table.iloc[0]
    assert raw["srcc"] == pytest.approx(-ref, abs=1e-12)


def test_correlate_reports_fit_and_rmse():
    rng = np.random.default_rng(2)
    x = rng.normal(size=500)
    y = 100 / (1 + np.exp(-2 * x)) + rng.normal(0, 3, 500)
    r = correlate(x, y, n_resamples=200)
    assert r["fit_ok"]
    assert r["plcc_fit"] > r["plcc"]
    assert r["srcc_fit"] == pytest.approx(r["srcc"], abs=1e-3)
    assert 2.5 < r["rmse_fit"] < 3.5
    assert r["rmse_fit_low"] < r["rmse_fit"] < r["rmse_fit_high"]


def test_model_level_srcc_by_hand():
    # Three models, two videos each. Model means of the metric: A=(1+3)/2=2,
    # B=(2+6)/2=4, C=(10+0)/2=5; of MOS: A=(10+20)/2=15, B=(40+30)/2=35,
    # C=(20+30)/2=25. Ranks metric A<B<C, MOS A<C<B -> rho = 1 - 6*(0+1+1)/(3*8) = 0.5.
    x = np.array([1, 3, 2, 6, 10, 0], float)
    y = np.array([10, 20, 40, 30, 20, 30], float)
    models = ["A", "A", "B", "B", "C", "C"]
    r = model_level(x, y, models, n_resamples=0)
    assert r["n"] == 3
    assert r["srcc"] == pytest.approx(0.5)
    assert r["krcc"] == pytest.approx(1 / 3)
    assert r["models"].set_index("model")["metric"].tolist() == [2.0, 4.0, 5.0]
    assert r["models"].set_index("model")["human"].tolist() == [15.0, 35.0, 25.0]
    # The same through the full table.
    pred = pd.DataFrame({"video": [f"{m}/{i}.mp4" for i, m in enumerate(models)], "model": models, "s": x})
    human = _human(pred["video"], y)
    t = agreement(pred, human, directions=_up, n_resamples=0, levels=("model",), min_group=3).table
    assert t.iloc[0]["srcc"] == pytest.approx(0.5)
    assert t.iloc[0]["level"] == "model"


def test_model_level_bootstrap_and_models_from_human_table():
    rng = np.random.default_rng(3)
    models = np.repeat([f"m{i}" for i in range(8)], 40)
    q = np.repeat(np.arange(8) * 0.5, 40) + rng.normal(size=320)
    pred = pd.DataFrame({"video": [f"v{i}" for i in range(320)], "s": q + rng.normal(size=320)})
    human = _human(pred["video"], q).assign(model=models)  # model only in the human labels
    res = agreement(pred, human, directions=_up, n_resamples=300, levels=("model",))
    row = res.table.iloc[0]
    assert row["n"] == 8 and row["srcc"] > 0.9
    assert row["srcc_low"] <= row["srcc"] <= row["srcc_high"]
    assert len(res.model_means) == 8


def test_prompt_pairs_and_pair_accuracy_by_hand():
    # Prompt p1: three videos with MOS 3, 2, 2 -> pairs (0>1), (0>2); (1,2) tied MOS dropped.
    # Prompt p2: two videos with MOS 1, 5 -> pair (4>3).
    groups = ["p1", "p1", "p1", "p2", "p2"]
    mos = np.array([3, 2, 2, 1, 5], float)
    b, w, g = prompt_pairs(groups, mos)
    assert sorted(zip(b.tolist(), w.tolist())) == [(0, 1), (0, 2), (4, 3)]
    metric = np.array([0.9, 0.5, 0.9, 0.2, 0.1])  # agrees on (0,1), ties on (0,2), disagrees on (4,3)
    r = pair_accuracy(metric, b, w, clusters=g, n_resamples=0)
    assert r["n_pairs"] == 3 and r["pair_ties"] == 1
    assert r["pair_acc"] == pytest.approx(1 / 3)
    assert r["pair_acc_excl_ties"] == pytest.approx(1 / 2)


def test_pair_level_in_table_and_breakdown_by_dimension():
    rng = np.random.default_rng(4)
    rows = []
    for p in range(30):
        for m in range(4):
            q = m + rng.normal()
            rows.append({"video": f"m{m}/p{p}.mp4", "prompt_id": f"p{p}", "model": f"m{m}",
                         "dimension": "motion" if p % 2 else "color", "s": q + rng.normal(), "mos": q})
    df = pd.DataFrame(rows)
    pred = df.drop(columns=["mos"])
    human = _human(df["video"], df["mos"])
    res = agreement(pred, human, directions=_up, n_resamples=100)
    t = res.table
    assert set(t["level"]) == {"instance", "model", "pair"}
    assert set(t["group"]) == {"all", "motion", "color"}
    pair = t[(t["level"] == "pair") & (t["group"] == "all")].iloc[0]
    assert pair["n_pairs"] == 30 * 6
    assert 0.5 < pair["pair_acc"] < 1 and pair["pair_acc_low"] <= pair["pair_acc"] <= pair["pair_acc_high"]
    inst = t[(t["level"] == "instance") & (t["group"] == "motion")].iloc[0]
    sub = df[df["dimension"] == "motion"]
    assert inst["n"] == len(sub)
    assert inst["srcc"] == pytest.approx(stats.spearmanr(sub["s"], sub["mos"]).statistic, abs=1e-12)
    # Clustered by prompt the interval differs from the per-video one but stays around the estimate.
    rc = agreement(pred, human, directions=_up, n_resamples=100, cluster="prompt", levels=("instance",), by=()).table.iloc[0]
    assert rc["srcc_low"] < rc["srcc"] < rc["srcc_high"]


def test_explicit_human_pairs():
    pred = pd.DataFrame({"video": ["a", "b", "c", "d"], "s": [4.0, 3.0, 3.0, 1.0]})
    human = _human(pred["video"], [1, 2, 3, 4])
    pairs = pd.DataFrame({"video_a": ["a", "b", "c", "a", "zz"], "video_b": ["d", "c", "d", "b", "a"],
                          "winner": ["a", "a", "b", "tie", "a"]})
    res = agreement(pred, human, directions=_up, n_resamples=0, levels=(), human_pairs=pairs)
    row = res.table[res.table["level"] == "human_pair"].iloc[0]
    # a>d agree, b>c metric tie, d>c disagree (3 vs 1); the tie pair and the unknown video are left out.
    assert row["n_pairs"] == 3 and row["pair_ties"] == 1
    assert row["pair_acc"] == pytest.approx(1 / 3)
    assert any("no prediction" in n for n in res.notes) and any("ties" in n for n in res.notes)
