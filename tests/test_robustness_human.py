"""Hostile inputs to human ratings, pairs, agreement and fusion fitting (cases H1-H29 of the
robustness list, docs/robustness.md): each test is named by its case id and asserts the
verdict: exit 2 with one line naming the file, row, field or option, or a result whose blank
cells say why. H26 (markup in --field) is tested with the other CLI-wide markup cases.
Every input is generated here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from videojury.cli import main
from videojury.errors import InputError
from videojury.human.importers import load_ratings
from videojury.human.pairs import bradley_terry, video_model_mapping


def _csv(path: Path, rows) -> Path:
    (pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows).to_csv(path, index=False)
    return path


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def _ratings(n_raters: int = 6, n_videos: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=n_videos)
    return pd.DataFrame([{"rater": f"r{r}", "video": f"v{v}.mp4",
                          "score": int(np.clip(np.round(3 + q[v] + rng.normal(0, .7)), 1, 5))}
                         for r in range(n_raters) for v in range(n_videos)])


# ---------------------------------------------------------------- mos (H1-H11)


def test_H1_ratings_outside_the_scale_are_refused_naming_the_row(tmp_path, capsys):
    df = _ratings()
    df.loc[3, "score"] = 99
    df.loc[10, "score"] = -3
    path = _csv(tmp_path / "r.csv", df)
    rc, _, err = _run(capsys, "mos", path)
    assert rc == 2
    assert "row 4: field 'score' is 99, outside the rating scale 1 to 5" in err
    assert "rows 4, 11" in err and "--scale" in err
    # Another declared scale: 99 fits 0-100, -3 does not.
    rc, _, err = _run(capsys, "mos", path, "--scale", "0", "100")
    assert rc == 2 and "row 11: field 'score' is -3, outside the rating scale 0 to 100" in err
    rc, _, _ = _run(capsys, "mos", path, "--scale", "any", "--splits", "0")
    assert rc == 0
    for bad in (["5", "1"], ["1", "x"], ["1", "2", "3"], ["1", "inf"]):
        rc, _, err = _run(capsys, "mos", path, "--scale", *bad)
        assert rc == 2 and "--scale" in err
    with pytest.raises(InputError, match="row 4"):
        load_ratings(df, scale=(1, 5))
    assert len(load_ratings(df)) == len(df)  # the library reads any scale unless told


def test_H2_a_rater_with_one_rating_is_excluded_for_no_variance(tmp_path, capsys):
    df = pd.concat([_ratings(), pd.DataFrame([{"rater": "once", "video": "v0.mp4", "score": 4}])])
    out = tmp_path / "m.csv"
    rc, _, _ = _run(capsys, "mos", _csv(tmp_path / "r.csv", df), "--splits", "0", "-o", out)
    assert rc == 0
    raters = pd.read_csv(tmp_path / "m.raters.csv")
    once = raters[(raters["rater"] == "once") & raters["rejected"]]
    assert len(once) == 1 and once["reason"].iloc[0].startswith("no variance: 1 score(s)")
    assert pd.read_csv(out)["n"].max() == 6  # its one rating is not in any MOS


def test_H3_a_word_in_the_score_column(tmp_path, capsys):
    df = _ratings().astype({"score": object})
    df.loc[5, "score"] = "good"
    rc, _, err = _run(capsys, "mos", _csv(tmp_path / "r.csv", df))
    assert rc == 2 and "row 6: field 'score' is not a number: 'good'" in err


@pytest.mark.parametrize("cell,what", [("", "missing"), ("nan", "missing"), ("inf", "infinite")])
def test_H4_blank_nan_and_infinite_scores(tmp_path, capsys, cell, what):
    path = tmp_path / "r.csv"
    text = _ratings().to_csv(index=False).splitlines()
    head, rows = text[0], text[1:]
    rows[2] = rows[2].rsplit(",", 1)[0] + "," + cell
    path.write_text("\n".join([head, *rows]) + "\n")
    rc, _, err = _run(capsys, "mos", path)
    assert rc == 2 and "row 3" in err and what in err


def test_H5_a_repeated_rater_video_pair_names_both_rows(tmp_path, capsys):
    df = pd.concat([_ratings(), _ratings().iloc[[9]]], ignore_index=True)
    rc, _, err = _run(capsys, "mos", _csv(tmp_path / "r.csv", df))
    assert rc == 2 and f"row {len(df)}" in err and "(row 10)" in err


def test_H6_one_rater_gives_a_mos_and_skips_reliability_with_a_reason(tmp_path, capsys):
    rc, out, err = _run(capsys, "mos", _csv(tmp_path / "r.csv", _ratings(n_raters=1)))
    assert rc == 0 and "reliability skipped:" in err and "MOS" in out


def test_H7_all_scores_equal_is_refused_with_the_reason(tmp_path, capsys):
    df = _ratings().assign(score=3)
    path = _csv(tmp_path / "r.csv", df)
    rc, _, err = _run(capsys, "mos", path, "-o", tmp_path / "m.csv")
    assert rc == 2
    assert f"every one of the {len(df)} ratings is 3" in err and "--no-zscore" in err
    assert not (tmp_path / "m.csv").exists()
    rc, _, _ = _run(capsys, "mos", path, "--no-zscore", "--splits", "0", "-o", tmp_path / "m.csv")
    assert rc == 0 and pd.read_csv(tmp_path / "m.csv")["mos"].eq(3).all()


def test_H8_no_rater_column(tmp_path, capsys):
    rc, _, err = _run(capsys, "mos", _csv(tmp_path / "r.csv", _ratings().drop(columns="rater")))
    assert rc == 2 and "missing column(s) 'rater'" in err


def test_H9_a_decimal_comma(tmp_path, capsys):
    df = _ratings().astype({"score": object})
    df.loc[0, "score"] = "3,5"
    rc, _, err = _run(capsys, "mos", _csv(tmp_path / "r.csv", df))
    assert rc == 2 and "not a number: '3,5'" in err


def test_H10_broken_jsonl(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    path.write_text('{"rater": "a", "video": "v", "score": 3}\n{"rater": "b", "video": \n')
    rc, _, err = _run(capsys, "mos", path)
    assert rc == 2 and "line 2" in err


def test_H11_parquet_bool_and_list_scores(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    df = _ratings()
    df.assign(score=df["score"] > 3).to_parquet(tmp_path / "b.parquet")
    rc, _, _ = _run(capsys, "mos", tmp_path / "b.parquet", "--scale", "0", "1", "--splits", "0")
    assert rc == 0  # booleans read as 0/1
    df.assign(score=[[1, 2]] * len(df)).to_parquet(tmp_path / "l.parquet")
    rc, _, err = _run(capsys, "mos", tmp_path / "l.parquet")
    assert rc == 2 and "score" in err


# ---------------------------------------------------------------- pairs (H12-H17)


def _pairs(tmp_path: Path, rows) -> Path:
    return _csv(tmp_path / "p.csv", rows)


def test_H12_a_video_compared_with_itself(tmp_path, capsys):
    rows = [{"video_a": "a", "video_b": "b", "winner": "a"}, {"video_a": "c", "video_b": "c",
                                                                "winner": "tie"}]
    rc, _, err = _run(capsys, "pairs", _pairs(tmp_path, rows))
    assert rc == 2 and "row 2" in err and "name the same video" in err


def test_H13_unknown_videos_without_models_warn_of_a_disconnected_graph(tmp_path, capsys):
    rows = [{"video_a": "a", "video_b": "b", "winner": "a"}, {"video_a": "c", "video_b": "d",
                                                                "winner": "b"}]
    rc, _, err = _run(capsys, "pairs", _pairs(tmp_path, rows), "--bootstrap", "0")
    assert rc == 0 and "2 disconnected parts" in err


def test_H14_an_unknown_video_with_models_names_its_row(tmp_path, capsys):
    rows = [{"video_a": "a", "video_b": "b", "winner": "a"}, {"video_a": "a", "video_b": "b",
                                                                "winner": "b"},
            {"video_a": "zzz", "video_b": "b", "winner": "a"}]
    models = _csv(tmp_path / "m.csv", [{"video": "a", "model": "m1"}, {"video": "b", "model": "m2"}])
    rc, _, err = _run(capsys, "pairs", _pairs(tmp_path, rows), "--models", models)
    assert rc == 2 and "row 3: video 'zzz' is not in the video->model mapping" in err


def test_H15_bad_blank_or_missing_winner(tmp_path, capsys):
    for winner, where in (("left-ish", "row 1"), (None, "row 1")):
        rc, _, err = _run(capsys, "pairs", _pairs(tmp_path, [{"video_a": "a", "video_b": "b",
                                                               "winner": winner}]))
        assert rc == 2 and where in err and "winner" in err
    rc, _, err = _run(capsys, "pairs", _pairs(tmp_path, [{"video_a": "a", "video_b": "b"}]))
    assert rc == 2 and "missing column(s) 'winner'" in err


def test_H16_a_video_mapped_to_two_models_names_both_rows(tmp_path, capsys):
    rows = [{"video_a": "a", "video_b": "b", "winner": "a"}, {"video_a": "b", "video_b": "c",
                                                                "winner": "tie"}]
    models = _csv(tmp_path / "m.csv", [{"video": "a", "model": "m1"}, {"video": "b", "model": "m2"},
                                       {"video": "c", "model": "m3"}, {"video": "a", "model": "m2"}])
    rc, _, err = _run(capsys, "pairs", _pairs(tmp_path, rows), "--models", models)
    assert rc == 2
    assert "row 4: video 'a' is mapped to model 'm2', but row 1 maps it to 'm1'" in err
    # Listed twice under the same model (a score table with two dimensions) is fine.
    same = pd.DataFrame({"video": ["a", "a", "b"], "model": ["m1", "m1", "m2"]})
    assert video_model_mapping(same) == {"a": "m1", "b": "m2"}


def test_H17_negative_bootstrap_is_refused_before_fitting(tmp_path, capsys):
    rows = [{"video_a": "a", "video_b": "b", "winner": "a"}, {"video_a": "b", "video_b": "c",
                                                                "winner": "b"}]
    rc, _, err = _run(capsys, "pairs", _pairs(tmp_path, rows), "--bootstrap", "-5")
    assert rc == 2 and "--bootstrap must be >= 0" in err
    rc, _, err = _run(capsys, "pairs", _pairs(tmp_path, rows), "--confidence", "1.5")
    assert rc == 2 and "--confidence" in err
    with pytest.raises(InputError, match="n_resamples"):
        bradley_terry(["a"], ["b"], ["a"], n_resamples=-5)


# ---------------------------------------------------------------- correlate (H18-H25)


def _study(tmp_path: Path, n: int = 10, *, mos=None, score=None, prefix: str = "v") -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    q = rng.normal(size=n)
    preds = pd.DataFrame({"video": [f"v{i}.mp4" for i in range(n)],
                          "s": q + rng.normal(0, .3, n) if score is None else score})
    human = pd.DataFrame({"video": [f"{prefix}{i}.mp4" for i in range(n)],
                          "mos": 50 + 10 * q if mos is None else mos})
    return _csv(tmp_path / "pred.csv", preds), _csv(tmp_path / "mos.csv", human)


def _correlate(capsys, pred, human, *extra):
    return _run(capsys, "correlate", pred, "--human", human, "--higher-better", "s",
                "--bootstrap", "20", *extra)


def test_H18_no_shared_video_lists_the_rows(tmp_path, capsys):
    pred, human = _study(tmp_path, prefix="w")
    rc, _, err = _correlate(capsys, pred, human)
    assert rc == 2 and "row 1 ('v0.mp4')" in err and "--allow-unmatched" in err


def test_H19_allow_unmatched_with_nothing_matched_is_refused(tmp_path, capsys):
    pred, human = _study(tmp_path, prefix="w")
    rc, _, err = _correlate(capsys, pred, human, "--allow-unmatched", "-o", tmp_path / "a.csv")
    assert rc == 2
    assert "none of the 10 prediction videos (e.g. 'v0.mp4') matches a human-labelled video " \
           "(e.g. 'w0.mp4')" in err
    assert not (tmp_path / "a.csv").exists()


def _overall(path: Path) -> pd.Series:
    t = pd.read_csv(path, keep_default_na=False, na_values=[""])
    return t[(t["level"] == "instance") & (t["group"] == "all")].iloc[0]


def test_H20_constant_scores_leave_srcc_blank_with_the_reason(tmp_path, capsys):
    pred, human = _study(tmp_path, score=np.full(10, 0.25))
    rc, out, _ = _correlate(capsys, pred, human, "-o", tmp_path / "a.csv")
    assert rc == 0
    row = _overall(tmp_path / "a.csv")
    assert np.isnan(row["srcc"]) and row["note"] == "every 's' score is 0.25: nothing to rank"
    assert "every 's' score is 0.25" in out


def test_H21_constant_mos_leaves_srcc_blank_with_the_reason(tmp_path, capsys):
    pred, human = _study(tmp_path, mos=np.full(10, 60.0))
    rc, out, _ = _correlate(capsys, pred, human, "-o", tmp_path / "a.csv")
    assert rc == 0
    row = _overall(tmp_path / "a.csv")
    assert np.isnan(row["srcc"]) and row["note"] == "every human score is 60: nothing to rank"
    assert "every human score is 60" in out


def test_H22_three_videos_leave_every_statistic_blank_with_the_reason(tmp_path, capsys):
    pred, human = _study(tmp_path, n=3)
    rc, out, _ = _correlate(capsys, pred, human, "-o", tmp_path / "a.csv")
    assert rc == 0
    row = _overall(tmp_path / "a.csv")
    assert np.isnan(row["srcc"]) and np.isnan(row["plcc"])
    assert row["note"] == "3 video(s) here; the statistics need at least 5"
    assert "need at least 5" in out


def test_H20_H22_statistics_that_exist_have_no_note(tmp_path, capsys):
    pred, human = _study(tmp_path)
    rc, _, _ = _correlate(capsys, pred, human, "-o", tmp_path / "a.csv")
    row = _overall(tmp_path / "a.csv")
    assert rc == 0 and row["srcc"] > 0.5 and pd.isna(row["note"])


def test_H23_a_missing_score_names_the_row_and_the_scorer_error(tmp_path, capsys):
    rng = np.random.default_rng(0)
    s = rng.normal(size=10)
    s[4] = np.nan
    pred = _csv(tmp_path / "p23.csv", pd.DataFrame({
        "video": [f"v{i}.mp4" for i in range(10)], "s": s,
        "error": [None] * 4 + ["decoding failed"] + [None] * 5}))
    _, human = _study(tmp_path)
    rc, _, err = _correlate(capsys, pred, human)
    assert rc == 2 and "row 5" in err and "decoding failed" in err and "--drop-missing" in err
    rc, _, _ = _correlate(capsys, pred, human, "--drop-missing", "-o", tmp_path / "a.csv")
    row = _overall(tmp_path / "a.csv")
    assert rc == 0 and row["n"] == 9 and row["n_missing"] == 1


def test_H24_a_string_score_a_repeated_video_and_a_repeated_label(tmp_path, capsys):
    pred, human = _study(tmp_path)
    p = pd.read_csv(pred).astype({"s": object})
    p.loc[2, "s"] = "high"
    rc, _, err = _correlate(capsys, _csv(tmp_path / "p2.csv", p), human)
    assert rc == 2 and "row 3" in err and "'high'" in err
    p = pd.read_csv(pred)
    rc, _, err = _correlate(capsys, _csv(tmp_path / "p3.csv", pd.concat([p, p.iloc[[1]]])), human)
    assert rc == 2 and "appears more than once" in err
    h = pd.read_csv(human)
    rc, _, err = _correlate(capsys, pred, _csv(tmp_path / "h2.csv", pd.concat([h, h.iloc[[0]]])))
    assert rc == 2 and "'v0.mp4'" in err and "second" in err


def test_H25_broken_love_jsonl_and_a_text_mos(tmp_path, capsys):
    pred, _ = _study(tmp_path)
    conv = [{"from": "human", "value": "<video>\nRate it."}, {"from": "gpt", "value": "good"}]
    bad = tmp_path / "train_perception.jsonl"
    bad.write_text(json.dumps({"video": "v0.mp4", "mos": 50, "conversations": conv}) + "\n{oops\n")
    rc, _, err = _correlate(capsys, pred, bad)
    assert rc == 2 and "line 2" in err
    bad.write_text(json.dumps({"video": "v0.mp4", "mos": "fifty", "conversations": conv}) + "\n")
    rc, _, err = _correlate(capsys, pred, bad)
    assert rc == 2 and "fifty" in err


# ---------------------------------------------------------------- fit and train (H27-H29)


def _fit_inputs(tmp_path: Path, n: int = 20, mos=None) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    scores = pd.DataFrame({"video": [f"v{i}.mp4" for i in range(n)],
                           "prompt_id": [f"p{i % 5}" for i in range(n)],
                           "a": rng.normal(size=n), "b": rng.normal(size=n)})
    mos = pd.DataFrame({"video": scores["video"],
                        "mos": 50 + 10 * scores["a"] if mos is None else mos})
    return _csv(tmp_path / "scores.csv", scores), _csv(tmp_path / "mos.csv", mos)


def test_H27_fit_without_a_match_with_three_rows_or_on_a_bad_store(tmp_path, capsys):
    scores, mos = _fit_inputs(tmp_path)
    other = _csv(tmp_path / "other.csv", pd.read_csv(mos).assign(video=lambda d: "x" + d["video"]))
    rc, _, err = _run(capsys, "fit", scores, "--mos", other, "--features", "a,b", "-o", tmp_path / "f")
    assert rc == 2 and "no video of" in err
    (tmp_path / "few").mkdir()
    few, few_mos = _fit_inputs(tmp_path / "few", n=3)
    rc, _, err = _run(capsys, "fit", few, "--mos", few_mos, "--features", "a,b", "-o", tmp_path / "f")
    assert rc == 2 and "need at least 6" in err
    (tmp_path / "bad.sqlite").write_bytes(b"not a database at all" * 100)
    rc, _, err = _run(capsys, "fit", tmp_path / "bad.sqlite", "--mos", mos, "-o", tmp_path / "f")
    assert rc == 2 and "bad.sqlite" in err
    assert not (tmp_path / "f" / "fusion.json").exists()
    # The output folder and the fold count are checked before anything is read.
    (tmp_path / "afile").write_text("x")
    rc, _, err = _run(capsys, "fit", tmp_path / "none.csv", "-o", tmp_path / "afile")
    assert rc == 2 and "is a file, and this option names a folder" in err
    rc, _, err = _run(capsys, "fit", scores, "--mos", mos, "--folds", "1", "-o", tmp_path / "f")
    assert rc == 2 and "--folds must be >= 2" in err


def test_H28_fit_on_a_constant_mos_is_refused_and_saves_nothing(tmp_path, capsys):
    scores, mos = _fit_inputs(tmp_path, mos=np.full(20, 50.0))
    rc, _, err = _run(capsys, "fit", scores, "--mos", mos, "--features", "a,b", "-o", tmp_path / "f")
    assert rc == 2
    assert "every human score ('mos') of the 20 matched videos is 50" in err
    assert not (tmp_path / "f").exists()


def test_H29_train_with_bad_yaml_an_unknown_key_or_a_missing_file(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("a: [1,\n")
    rc, _, err = _run(capsys, "train", tmp_path / "bad.yaml")
    assert rc == 2 and "not valid YAML" in err
    (tmp_path / "unk.yaml").write_text("bogus_key: 1\n")
    rc, _, err = _run(capsys, "train", tmp_path / "unk.yaml")
    assert rc == 2 and "unknown key bogus_key" in err
    rc, _, err = _run(capsys, "train", tmp_path / "none.yaml")
    assert rc == 2 and "does not exist" in err


def test_H22_model_level_with_too_few_models_says_so(tmp_path, capsys):
    pred, human = _study(tmp_path)
    p = pd.read_csv(pred).assign(model=[f"m{i % 2}" for i in range(10)])
    rc, _, _ = _correlate(capsys, _csv(tmp_path / "pm.csv", p), human, "-o", tmp_path / "a.csv")
    t = pd.read_csv(tmp_path / "a.csv")
    row = t[(t["level"] == "model") & (t["group"] == "all")].iloc[0]
    assert rc == 0 and np.isnan(row["srcc"])
    assert row["note"] == "2 model(s) here; the model level needs at least 3"


def test_mos_and_pairs_refuse_an_unwritable_output_before_reading(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    ratings = _csv(tmp_path / "r.csv", _ratings())
    pairs = _pairs(tmp_path, [{"video_a": "a", "video_b": "b", "winner": "a"}])
    for verb, src in (("mos", ratings), ("pairs", pairs)):
        rc, _, err = _run(capsys, verb, src, "-o", tmp_path / "x.xlsx")
        assert rc == 2 and "unknown output format '.xlsx'" in err
        rc, _, err = _run(capsys, verb, src, "-o", tmp_path / "afile" / "x.csv")
        assert rc == 2 and "afile is a file, not a folder" in err
        # Checked first: the same with an input that does not exist.
        rc, _, err = _run(capsys, verb, tmp_path / "none.csv", "-o", tmp_path / "x.xlsx")
        assert rc == 2 and ".xlsx" in err


def test_correlate_refuses_an_unwritable_output_before_reading(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    pred, human = _study(tmp_path)
    rc, _, err = _correlate(capsys, pred, human, "-o", tmp_path / "a.xlsx")
    assert rc == 2 and "unknown output format '.xlsx'" in err
    rc, _, err = _correlate(capsys, tmp_path / "none.csv", human, "-o", tmp_path / "afile" / "a.csv")
    assert rc == 2 and "afile is a file, not a folder" in err
