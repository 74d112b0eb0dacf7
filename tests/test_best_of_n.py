"""Best-of-N selection: the pick, its direction, the gain over a random pick, the CLI.

The main check uses synthetic footage (textured moving shapes, x264-encoded)
with one pristine and three degraded candidates (blur, noise, JPEG
compression) per prompt: NIQE (lower is better) must pick the pristine clip
for nearly every prompt.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import videojury
from videojury.cli import main
from videojury.data.synthetic import ClipSpec, make_dataset
from videojury.errors import InputError
from videojury.selection import check_groups, gain_table, parse_weights, select

SPEC = ClipSpec(width=192, height=144, frames=8, fps=8.0)


@pytest.fixture(scope="module")
def candidates(tmp_path_factory):
    """8 prompts x (pristine + blur2 + noise2 + compression2)."""
    root = tmp_path_factory.mktemp("bon")
    return make_dataset(root, n_clips=8, kinds=("blur", "noise", "compression"), levels=(2,),
                        spec=SPEC, seed=3)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One store for the module: the CLI test reads what the API test computed."""
    return tmp_path_factory.mktemp("bon_store") / "s.sqlite"


def test_niqe_picks_the_pristine_clip(candidates, store):
    res = videojury.best_of_n(str(candidates), ["niqe:frames=4", "piqe:frames=4"],
                              store=store, seed=1)
    assert len(res.picks) == 8 and res.skipped == []
    rate = float((res.picks["degradation"] == "none").mean())
    print(f"pristine pick rate with niqe: {rate:.3f} over {len(res.picks)} prompts")
    assert rate >= 7 / 8
    g = res.gains.set_index("field")
    # niqe decides (weight 1), piqe is only reported; both improve on a random pick.
    assert g.loc["niqe", "weight"] == 1 and g.loc["piqe", "weight"] == 0
    assert not g.loc["niqe", "higher_is_better"]
    assert g.loc["niqe", "pick_mean"] < g.loc["niqe", "random_mean"]
    assert 0 < g.loc["niqe", "ci_low"] <= g.loc["niqe", "gain"] <= g.loc["niqe", "ci_high"]
    assert g.loc["piqe", "gain"] > 0
    # The objective of one lower-is-better field is its negated value.
    assert np.allclose(res.picks["objective"], -res.picks["niqe"])
    # Store-backed: a rerun computes nothing and gives the same picks and CIs.
    again = videojury.best_of_n(str(candidates), ["niqe:frames=4", "piqe:frames=4"],
                                store=store, seed=1)
    assert again.stats.computed == 0 and again.stats.cached == 64
    pd.testing.assert_frame_equal(again.picks, res.picks)
    pd.testing.assert_frame_equal(again.gains, res.gains)


def test_cli_writes_picks_and_gains(candidates, store, tmp_path):
    out, gains = tmp_path / "picks.csv", tmp_path / "gains.jsonl"
    rc = main(["best-of-n", str(candidates), "-m", "niqe:frames=4", "--out", str(out),
               "--gains", str(gains), "--store", str(store), "--quiet", "--resamples", "200"])
    assert rc == 0
    picks = pd.read_csv(out)
    assert list(picks.columns[:3]) == ["prompt_id", "video", "niqe"]
    assert sorted(picks["prompt_id"]) == [f"p{i:03d}" for i in range(8)]
    assert (picks["degradation"] == "none").mean() >= 7 / 8
    # The picks carry their fields' metadata (directions) beside the CSV.
    from videojury.io import field_directions, read_table

    assert field_directions(read_table(out))["niqe"] is False
    g = pd.read_json(gains, lines=True)
    assert list(g["field"]) == ["niqe"] and g["gain"].iloc[0] > 0


def _table():
    # Two prompts; "a" higher is better, "b" lower is better.
    return pd.DataFrame({"prompt_id": ["p", "p", "p", "q", "q"],
                         "a": [1.0, 3.0, 2.0, 5.0, 5.0],
                         "b": [0.0, 9.0, 1.0, 2.0, 1.0]})


def test_select_is_direction_aware_and_ties_go_first():
    t = _table()
    groups = {"p": [0, 1, 2], "q": [3, 4]}
    dirs = {"a": True, "b": False}
    _, picks, _ = select(t, groups, {"a": 1.0, "b": 0.0}, dirs)
    assert picks == {"p": 1, "q": 3}  # max a; the tie in q goes to the first row
    _, picks, _ = select(t, groups, {"a": 0.0, "b": 1.0}, dirs)
    assert picks == {"p": 0, "q": 4}  # min b
    # Weighted z-scores within the prompt, b's sign flipped (lower is better).
    obj, picks, _ = select(t, groups, {"a": 1.0, "b": 1.0}, dirs, "zscore")
    za = (t.a[:3] - t.a[:3].mean()) / t.a[:3].std(ddof=0)
    zb = (t.b[:3] - t.b[:3].mean()) / t.b[:3].std(ddof=0)
    assert np.allclose(obj[:3], za - zb)
    assert picks["p"] == int(np.argmax(za - zb))
    obj, picks, _ = select(t, groups, {"a": 1.0, "b": 1.0}, dirs, "rank")
    assert np.allclose(obj[:3], [0 - 0, 1 - 1, 0.5 - 0.5])  # ranks scaled to [0, 1]


def test_select_skips_failed_candidates():
    t = _table()
    t.loc[1, "a"] = np.nan
    t.loc[[3, 4], "a"] = np.nan
    _, picks, skipped = select(t, {"p": [0, 1, 2], "q": [3, 4]}, {"a": 1.0},
                               {"a": True, "b": False})
    assert picks == {"p": 2} and skipped == ["q"]


def test_gain_is_pick_minus_expected_random_pick_and_seeded():
    rng = np.random.default_rng(0)
    n = 30
    t = pd.DataFrame({"x": rng.normal(size=n * 3)})
    groups = {f"p{i}": [3 * i, 3 * i + 1, 3 * i + 2] for i in range(n)}
    picks = {p: idx[int(np.argmax(t.x.to_numpy()[idx]))] for p, idx in groups.items()}
    g1 = gain_table(t, groups, picks, {"x": 1.0}, {"x": True}, n_resamples=500, seed=4)
    g2 = gain_table(t, groups, picks, {"x": 1.0}, {"x": True}, n_resamples=500, seed=4)
    pd.testing.assert_frame_equal(g1, g2)
    want = np.mean([t.x[i] - t.x[groups[p]].mean() for p, i in picks.items()])
    assert g1.gain.iloc[0] == pytest.approx(want)
    assert g1.ci_low.iloc[0] < want < g1.ci_high.iloc[0]
    # Lower-is-better: the same numbers count as a loss.
    g3 = gain_table(t, groups, picks, {"x": 1.0}, {"x": False}, n_resamples=500, seed=4)
    assert g3.gain.iloc[0] == pytest.approx(-want)


def test_weights_parse():
    assert parse_weights("1,0.5") == [1.0, 0.5]
    assert parse_weights("niqe=1, piqe=0.5") == {"niqe": 1.0, "piqe": 0.5}
    with pytest.raises(InputError, match="mixes"):
        parse_weights("1,piqe=2")
    with pytest.raises(InputError, match="number"):
        parse_weights("1,x")


def test_groups_need_prompt_ids_and_two_candidates():
    from videojury.data.items import Item

    with pytest.raises(InputError, match="prompt_id"):
        check_groups([Item(video="a.mp4"), Item(video="b.mp4")])
    with pytest.raises(InputError, match="single candidate.*'q'"):
        check_groups([Item(video="a.mp4", prompt_id="p"), Item(video="b.mp4", prompt_id="p"),
                      Item(video="c.mp4", prompt_id="q")])


@pytest.mark.parametrize("case", ["no_prompt_id", "one_candidate", "unknown_metric",
                                  "bad_out", "out_is_dir", "bad_weights", "weight_count"])
def test_cli_bad_input_is_one_message_before_scoring(candidates, tmp_path, capsys, case):
    man = pd.read_csv(candidates)
    path = tmp_path / "m.csv"
    metric, out, extra = "niqe:frames=4", tmp_path / "picks.csv", []
    if case == "no_prompt_id":
        man = man.drop(columns=["prompt_id"])
    elif case == "one_candidate":
        man = man.iloc[:5]
    elif case == "unknown_metric":
        metric = "niqee"
    elif case == "bad_out":
        out = tmp_path / "picks.xlsx"
    elif case == "out_is_dir":
        out = tmp_path
    elif case == "bad_weights":
        extra = ["--weights", "nope=1"]
    elif case == "weight_count":
        extra = ["--weights", "1,2"]
    man["video"] = [str(candidates.parent / v) for v in man["video"]]
    man.to_csv(path, index=False)
    store = tmp_path / "store.sqlite"
    rc = main(["best-of-n", str(path), "-m", metric, "--out", str(out), "--store", str(store),
               "--quiet", *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err and err.count("error:") == 1
    expect = {"no_prompt_id": "prompt_id", "one_candidate": "single candidate",
              "unknown_metric": "unknown metric", "bad_out": "unknown output format",
              "out_is_dir": "is a directory", "bad_weights": "no such score column",
              "weight_count": "2 weights for 1 metrics"}[case]
    assert expect in err
    assert not out.is_file()
    if store.exists():  # nothing was scored
        from videojury.run.store import Store

        with Store(store) as st:
            assert st.count() == 0
