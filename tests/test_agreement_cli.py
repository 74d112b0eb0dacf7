"""``videojury mos``, ``pairs`` and ``correlate`` end to end on small files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from videojury.cli import main
from videojury.io import write_table
from videojury.metrics.base import ResultField

# The directions a videojury score table would carry for the fixture's two columns.
FIELDS = [ResultField("clip", "clip", True), ResultField("fvd", "fvd", False)]


@pytest.fixture()
def study(tmp_path):
    """Scores for 4 models x 15 prompts, LOVE-style human MOS and raw ratings."""
    rng = np.random.default_rng(0)
    scores, love, ratings = [], [], []
    for p in range(15):
        for m in range(4):
            q = 0.6 * m + rng.normal()
            video = f"/runs/M{m}/p{p:03d}.mp4"
            scores.append({"video": video, "prompt": f"prompt {p}", "model": f"M{m}", "prompt_id": f"p{p}",
                           "dimension": "motion" if p % 2 else "color", "clip": q + rng.normal(0, 0.7),
                           "fvd": 500 - 50 * q + rng.normal(0, 30), "error": None})
            love.append({"video": f"M{m}/p{p:03d}.mp4", "mos": float(50 + 8 * q),
                         "conversations": [{"from": "human", "value": "<video>\nRate the quality."},
                                           {"from": "gpt", "value": "fair"}]})
            for r in range(6):
                ratings.append({"worker": f"w{r}", "video": video,
                                "score": int(np.clip(np.round(3 + q + rng.normal(0, 0.6)), 1, 5))})
    write_table(pd.DataFrame(scores), tmp_path / "scores.csv", fields=FIELDS)  # + scores.csv.fields.json
    (tmp_path / "train_perception.jsonl").write_text("\n".join(json.dumps(r) for r in love) + "\n")
    pd.DataFrame(ratings).to_csv(tmp_path / "ratings.csv", index=False)
    return tmp_path


def test_mos_cli_writes_table_raters_and_summary(study, capsys):
    out = study / "mos.csv"
    rc = main(["mos", str(study / "ratings.csv"), "--rater-col", "worker", "--splits", "20", "-o", str(out)])
    assert rc == 0
    mos = pd.read_csv(out)
    assert len(mos) == 60 and {"mos", "std", "n", "ci_low", "ci_high"} <= set(mos.columns)
    raters = pd.read_csv(study / "mos.raters.csv")
    assert {"P", "Q", "N", "outlier_ratio", "asymmetry", "rejected", "reason"} <= set(raters.columns)
    summary = json.loads((study / "mos.summary.json").read_text())
    assert summary["reliability"][0]["srcc_full"] > 0.8
    assert "Split-half reliability" in capsys.readouterr().out


def test_mos_then_correlate_with_its_output(study):
    assert main(["mos", str(study / "ratings.csv"), "--rater-col", "worker", "--splits", "0",
                 "-o", str(study / "mos.parquet")]) == 0
    res = study / "agree.csv"
    rc = main(["correlate", str(study / "scores.csv"), "--human", str(study / "mos.parquet"),
               "--lower-better", "fvd", "--bootstrap", "100", "-o", str(res)])
    assert rc == 0
    t = pd.read_csv(res)
    row = t[(t.field == "fvd") & (t.level == "instance") & (t.group == "all")].iloc[0]
    assert row["direction"] == "lower" and row["srcc"] > 0.5


def test_correlate_cli_love_file_outputs(study, capsys):
    res = study / "agree.json"
    rc = main(["correlate", str(study / "scores.csv"), "--human", str(study / "train_perception.jsonl"),
               "--lower-better", "fvd", "--bootstrap", "100", "--compare", "-o", str(res)])
    assert rc == 0
    doc = json.loads(res.read_text())
    assert doc["join"]["matched"] == {"suffix2": 60}
    rows = pd.DataFrame(doc["results"])
    assert set(rows["level"]) == {"instance", "model", "pair"}
    assert set(rows["human_dimension"]) == {"perception"}
    assert {"srcc_low", "srcc_high", "plcc_fit", "rmse_fit", "pair_acc"} <= set(rows.columns)
    assert len(doc["compare"]) == 2  # clip vs fvd, SRCC and PLCC
    assert len(doc["model_means"]) > 0
    captured = capsys.readouterr()
    assert "Agreement with people" in captured.out
    assert "matched 60 of 60" in captured.err


def test_correlate_cli_sidecars_for_csv(study):
    res = study / "agree.csv"
    assert main(["correlate", str(study / "scores.csv"), "--human", f"quality={study / 'train_perception.jsonl'}",
                 "--field", "clip", "--bootstrap", "50", "--no-breakdown", "-o", str(res)]) == 0
    t = pd.read_csv(res)
    assert set(t["field"]) == {"clip"} and set(t["breakdown"]) == {"all"}
    assert set(t["human_dimension"]) == {"quality"}
    meta = json.loads((study / "agree.meta.json").read_text())
    assert meta["settings"]["n_resamples"] == 50
    assert (study / "agree.models.csv").exists()


def test_correlate_cli_input_errors_exit_2(study, capsys):
    scores = pd.read_csv(study / "scores.csv")
    scores.loc[3, "clip"] = np.nan
    bad = study / "bad.csv"
    scores.to_csv(bad, index=False)
    rc = main(["correlate", str(bad), "--human", str(study / "train_perception.jsonl"), "--bootstrap", "0",
               "--higher-better", "clip", "--lower-better", "fvd"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "row 4" in err and "'clip'" in err
    # With --drop-missing it runs and counts the row.
    assert main(["correlate", str(bad), "--human", str(study / "train_perception.jsonl"), "--bootstrap", "0",
                 "--drop-missing", "--field", "clip", "--higher-better", "clip", "-o", str(study / "ok.csv")]) == 0
    assert pd.read_csv(study / "ok.csv")["n_missing"].max() == 1
    # Unlabelled videos: error by default, listed with --allow-unmatched.
    extra = pd.concat([scores.dropna(subset=["clip"]), pd.DataFrame([{"video": "/runs/M9/x.mp4", "clip": 1.0}])])
    extra.to_csv(study / "extra.csv", index=False)
    assert main(["correlate", str(study / "extra.csv"), "--human", str(study / "train_perception.jsonl"),
                 "--bootstrap", "0", "--field", "clip", "--higher-better", "clip"]) == 2
    assert "no human label" in capsys.readouterr().err
    assert main(["correlate", str(study / "extra.csv"), "--human", str(study / "train_perception.jsonl"),
                 "--bootstrap", "0", "--field", "clip", "--higher-better", "clip", "--allow-unmatched"]) == 0
    assert "1 prediction video(s) had no human label" in capsys.readouterr().err


def test_pairs_cli(study, capsys):
    rng = np.random.default_rng(1)
    rows = []
    for k in range(300):
        a, b = rng.choice(4, 2, replace=False)
        p = 1 / (1 + np.exp(-(a - b) * 0.7))
        rows.append({"left": f"M{a}/x{k}.mp4", "right": f"M{b}/y{k}.mp4", "model_a": f"M{a}", "model_b": f"M{b}",
                     "pref": "a" if rng.random() < p else "b"})
    pd.DataFrame(rows).to_csv(study / "prefs.csv", index=False)
    out = study / "bt.csv"
    rc = main(["pairs", str(study / "prefs.csv"), "--video-a-col", "left", "--video-b-col", "right",
               "--winner-col", "pref", "--bootstrap", "50", "-o", str(out)])
    assert rc == 0
    t = pd.read_csv(out)
    m = t[t["level"] == "model"].sort_values("rank")
    assert m["item"].tolist() == ["M3", "M2", "M1", "M0"]
    assert (m["ci_low"] <= m["score"]).all() and (m["score"] <= m["ci_high"]).all()
    assert "Bradley-Terry scores per model" in capsys.readouterr().out
    assert main(["pairs", str(study / "prefs.csv")]) == 2  # default column names are absent


def test_correlate_unknown_by_column_is_an_error(study, capsys):
    # A misspelt --by used to be dropped silently, leaving only the overall rows.
    rc = main(["correlate", str(study / "scores.csv"), "--human", str(study / "train_perception.jsonl"),
               "--bootstrap", "0", "--field", "clip", "--by", "dimensoin"])
    assert rc == 2
    assert "--by 'dimensoin'" in capsys.readouterr().err
    assert main(["correlate", str(study / "scores.csv"), "--human", str(study / "train_perception.jsonl"),
                 "--bootstrap", "0", "--field", "clip", "--by", "model"]) == 0


def test_compare_says_which_pairs_it_skipped(study, capsys):
    scores = pd.read_csv(study / "scores.csv")
    scores.loc[3:, "fvd"] = np.nan  # only 3 videos scored by both fields
    scores.to_csv(study / "sparse.csv", index=False)
    rc = main(["correlate", str(study / "sparse.csv"), "--human",
               str(study / "train_perception.jsonl"), "--lower-better", "fvd", "--higher-better", "clip",
               "--bootstrap", "50", "--compare", "--drop-missing"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "--compare skipped 1 pair(s)" in err and "3 videos" in err


def test_foreign_table_directions_are_asked_for_not_assumed(study, capsys):
    # A table written by another tool has no .fields.json: nothing says which way 'clip' points.
    pd.read_csv(study / "scores.csv").to_csv(study / "foreign.csv", index=False)
    rc = main(["correlate", str(study / "foreign.csv"), "--human", str(study / "train_perception.jsonl"),
               "--bootstrap", "0", "--lower-better", "fvd"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "direction unknown for column(s) 'clip'" in err and "foreign.csv" in err
    assert "--higher-better clip" in err and "Traceback" not in err
    assert main(["correlate", str(study / "foreign.csv"), "--human", str(study / "train_perception.jsonl"),
                 "--bootstrap", "0", "--lower-better", "fvd", "--higher-better", "clip",
                 "-o", str(study / "f.csv")]) == 0
    t = pd.read_csv(study / "f.csv").set_index(["field", "level", "breakdown"])
    assert t.loc[("fvd", "instance", "all"), "srcc"] > 0.5  # flipped by the flag
    # The same table with its metadata needs no flags and gives the same numbers.
    assert main(["correlate", str(study / "scores.csv"), "--human", str(study / "train_perception.jsonl"),
                 "--bootstrap", "0", "-o", str(study / "m.csv")]) == 0
    m = pd.read_csv(study / "m.csv").set_index(["field", "level", "breakdown"])
    assert m.loc[("fvd", "instance", "all"), "direction"] == "lower"
    assert m.loc[("fvd", "instance", "all"), "srcc"] == t.loc[("fvd", "instance", "all"), "srcc"]
