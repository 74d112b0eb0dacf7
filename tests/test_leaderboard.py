"""Leaderboards: competition ranks, rank sums, weighted aggregation, bootstrap, outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from videojury.analysis.leaderboard import (
    MEDALS,
    bootstrap_ranks,
    competition_rank,
    parse_metric_spec,
    rank_table,
    to_records,
    weighted_table,
)
from videojury.report.leaderboard import render
from videojury.cli import main
from videojury.errors import InputError
from videojury.io import write_table
from videojury.metrics.base import ResultField

# A table of evaluators as in LOVE's V2T leaderboard: SRCC on two axes and QA accuracy.
# The ranks below were worked out by hand (see the comments), ties included.
EVALUATORS = pd.DataFrame({
    "evaluator": ["A", "B", "C", "D", "E", "F", "G"],
    "srcc_perception": [0.79, 0.62, 0.56, 0.62, 0.50, 0.49, 0.65],
    "srcc_correspondence": [0.75, 0.65, 0.67, 0.66, 0.61, 0.60, 0.40],
    "qa_accuracy": [0.787, 0.758, 0.765, 0.752, 0.734, 0.739, 0.640],
})
# perception (desc):      A1 G2 B3 D3 C5 E6 F7    <- B and D tie at 0.62: both 3, next is 5
# correspondence (desc):  A1 C2 D3 B4 E5 F6 G7
# qa accuracy (desc):     A1 C2 B3 D4 F5 E6 G7
HAND_RANKS = {
    "A": (1, 1, 1), "B": (3, 4, 3), "C": (5, 2, 2), "D": (3, 3, 4),
    "E": (6, 5, 6), "F": (7, 6, 5), "G": (2, 7, 7),
}
# rank sums: A3 B10 C9 D10 E17 F18 G16 -> overall A1 C2 B3 D3 G5 E6 F7 (B, D tie)
HAND_SUM = {"A": 3, "B": 10, "C": 9, "D": 10, "E": 17, "F": 18, "G": 16}
HAND_OVERALL = {"A": 1, "C": 2, "B": 3, "D": 3, "G": 5, "E": 6, "F": 7}
METRICS = ["srcc_perception", "srcc_correspondence", "qa_accuracy"]
UP = [m + ":higher" for m in METRICS]  # a plain DataFrame has no field metadata: say the direction


def test_competition_rank_ties_and_directions():
    assert competition_rank([0.9, 0.8, 0.8, 0.7]).tolist() == [1, 2, 2, 4]
    assert competition_rank([0.9, 0.8, 0.8, 0.7], higher_is_better=False).tolist() == [4, 2, 2, 1]
    assert competition_rank([5, 5, 5]).tolist() == [1, 1, 1]
    # Missing values share the last place, after every present value.
    assert competition_rank([0.5, np.nan, 0.7, np.nan]).tolist() == [2, 3, 1, 3]
    # Float noise does not split a tie.
    assert competition_rank([0.1 + 0.2, 0.3, 0.2]).tolist() == [1, 1, 3]


def test_parse_metric_spec():
    assert parse_metric_spec("srcc").higher_is_better is None  # from the table's metadata, or refused
    assert parse_metric_spec("srcc:higher").higher_is_better is True
    s = parse_metric_spec("rmse:lower")
    assert (s.column, s.higher_is_better) == ("rmse", False)
    assert parse_metric_spec("a:b").column == "a:b"  # a colon inside a name is kept
    with pytest.raises(InputError):
        parse_metric_spec("  ")


def test_rank_table_reproduces_hand_computed_ranks_with_ties():
    t = rank_table(EVALUATORS, "evaluator", UP)
    for _, row in t.iterrows():
        name = row["evaluator"]
        assert tuple(int(row[f"rank:{m}"]) for m in METRICS) == HAND_RANKS[name], name
        assert row["rank_sum"] == HAND_SUM[name]
        assert row["overall_rank"] == HAND_OVERALL[name]
    # Ordered by overall rank; the tie keeps the input order (B before D).
    assert t["evaluator"].tolist() == ["A", "C", "B", "D", "G", "E", "F"]


def test_cli_leaderboard_json_on_evaluator_table(tmp_path, capsys):
    path = tmp_path / "evaluators.csv"
    # Written with field metadata (evaluators.csv.fields.json): bare -m COL reads the direction.
    write_table(EVALUATORS, path, fields=[ResultField(m, higher_is_better=True) for m in METRICS])
    code = main(["leaderboard", str(path), "--name-column", "evaluator",
                 *sum((["--metric", m] for m in METRICS), []), "--format", "json"])
    assert code == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["A", "C", "B", "D", "G", "E", "F"]
    for r in records:
        assert set(r) == {"name", "overall_rank", "rank_sum", "ranks", "values"}
        assert r["overall_rank"] == HAND_OVERALL[r["name"]]
        assert r["rank_sum"] == HAND_SUM[r["name"]]
        assert tuple(r["ranks"][m] for m in METRICS) == HAND_RANKS[r["name"]]
        row = EVALUATORS.set_index("evaluator").loc[r["name"]]
        assert r["values"] == {m: pytest.approx(float(row[m])) for m in METRICS}


def test_markdown_marks_top_three_with_medals_and_tied_bronze():
    md = render(rank_table(EVALUATORS, "evaluator", UP), "md")
    lines = [ln for ln in md.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    first_cells = {ln.split("|")[2].strip(): ln.split("|")[1].strip() for ln in lines}
    assert first_cells["A"] == f"{MEDALS[1]} 1"
    assert first_cells["C"] == f"{MEDALS[2]} 2"
    assert first_cells["B"] == first_cells["D"] == f"{MEDALS[3]} 3"  # tied third: both bronze
    assert first_cells["G"] == "5"
    assert "srcc_perception \u2191" in md


def test_lower_is_better_and_tie_for_first():
    df = pd.DataFrame({"model": ["x", "y", "z"], "err": [0.2, 0.2, 0.5], "acc": [0.9, 0.9, 0.1]})
    t = rank_table(df, "model", ["err:lower", "acc:higher"])
    assert t.set_index("model")["overall_rank"].to_dict() == {"x": 1, "y": 1, "z": 3}
    md = render(t, "md")
    assert md.count(MEDALS[1]) == 2 and MEDALS[2] not in md and MEDALS[3] in md


def test_long_table_is_averaged_per_name():
    long = pd.DataFrame({"model": ["a", "a", "b", "b"], "s": [1.0, 3.0, 2.5, 2.5]})
    t = rank_table(long, "model", ["s:higher"])
    assert t.set_index("model")["s"].to_dict() == {"a": 2.0, "b": 2.5}
    assert t["model"].tolist() == ["b", "a"]


def test_weighted_table_min_max_and_weights():
    df = pd.DataFrame({"m": ["a", "b", "c"], "q": [0.0, 5.0, 10.0], "e": [1.0, 3.0, 2.0]})
    t = weighted_table(df, "m", ["q:higher", "e:lower"]).set_index("m")
    # q -> 0, .5, 1 ; e (lower better) -> 1, 0, .5 ; equal weights -> .5, .25, .75
    assert t["score"].to_dict() == pytest.approx({"a": 0.5, "b": 0.25, "c": 0.75})
    assert t["overall_rank"].to_dict() == {"c": 1, "a": 2, "b": 3}
    w = weighted_table(df, "m", ["q:higher", "e:lower"], weights={"q": 3.0}).set_index("m")
    # (3*q + e) / 4 -> a .25, b .375, c .875
    assert w["score"].to_dict() == pytest.approx({"a": 0.25, "b": 0.375, "c": 0.875})
    r = weighted_table(df, "m", ["q:higher"], ranges={"q": (0.0, 20.0)}).set_index("m")
    assert r["score"].to_dict() == pytest.approx({"a": 0.0, "b": 0.25, "c": 0.5})
    recs = to_records(weighted_table(df, "m", ["q:higher", "e:lower"]))
    assert recs[0]["name"] == "c" and recs[0]["score"] == pytest.approx(0.75)
    with pytest.raises(InputError, match="not one of the ranked metrics"):
        weighted_table(df, "m", ["q:higher"], weights={"zz": 1.0})


def _long(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    # "top" is far ahead; "mid1"/"mid2" are indistinguishable; "low" is far behind.
    for model, mu in (("top", 0.9), ("mid1", 0.5), ("mid2", 0.5), ("low", 0.1)):
        for p in range(30):
            rows.append({"model": model, "prompt": f"p{p}", "s": mu + rng.normal(0, 0.05),
                         "t": mu + rng.normal(0, 0.05)})
    return pd.DataFrame(rows)


def test_bootstrap_rank_intervals():
    long = _long()
    iv = bootstrap_ranks(long, "model", "prompt", ["s:higher", "t:higher"], n_boot=300, seed=7)
    by = iv.set_index("model")
    assert (by.loc["top", "rank_lo"], by.loc["top", "rank_hi"]) == (1, 1)
    assert (by.loc["low", "rank_lo"], by.loc["low", "rank_hi"]) == (4, 4)
    assert by.loc["top", "p_first"] == 1.0
    # The two indistinguishable models swap places across replicates.
    for m in ("mid1", "mid2"):
        assert by.loc[m, "rank_lo"] == 2 and by.loc[m, "rank_hi"] == 3
    again = bootstrap_ranks(long, "model", "prompt", ["s:higher", "t:higher"], n_boot=300, seed=7)
    pd.testing.assert_frame_equal(iv, again)
    w = bootstrap_ranks(long, "model", "prompt", ["s:higher", "t:higher"], n_boot=100, seed=7,
                        method="weighted")
    assert w.set_index("model").loc["top", "rank_hi"] == 1
    with pytest.raises(InputError, match="prompt column"):
        bootstrap_ranks(long, "model", "nope", ["s:higher"])


def test_outputs_csv_json_html_with_intervals():
    long = _long()
    t = rank_table(long, "model", ["s:higher", "t:higher"])
    iv = bootstrap_ranks(long, "model", "prompt", ["s:higher", "t:higher"], n_boot=50, seed=0)
    recs = json.loads(render(t, "json", iv))
    assert recs[0]["name"] == "top" and recs[0]["rank_interval"] == [1, 1]
    csv = render(t, "csv", iv)
    assert csv.splitlines()[0].split(",")[-2:] == ["rank_lo", "rank_hi"]
    html = render(t, "html", iv, title="Evaluators")
    assert html.count("<tr data-name=") == 4 and "sortable" in html
    assert "http://" not in html and "https://" not in html
    md = render(t, "md", iv)
    assert "95% rank interval" in md and "1\u20131" in md
    with pytest.raises(InputError, match="unknown format"):
        render(t, "xlsx")


def test_cli_errors_and_options(tmp_path, capsys):
    path = tmp_path / "t.csv"
    EVALUATORS.to_csv(path, index=False)
    assert main(["leaderboard", str(path), "-n", "evaluator", "-m", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("evaluator,s\nA,0.5\nB,high\n")
    assert main(["leaderboard", str(bad), "-m", "s:higher"]) == 2
    assert "column 's' is not numeric (row 2: 'high')" in capsys.readouterr().err
    assert main(["leaderboard", str(path), "-m", "qa_accuracy", "--weight", "qa_accuracy=2"]) == 2
    assert "apply to --method weighted" in capsys.readouterr().err
    out = tmp_path / "board.html"
    assert main(["leaderboard", str(path), "-m", "qa_accuracy:higher", "-m", "srcc_perception:higher",
                 "--method", "weighted", "--weight", "qa_accuracy=2", "-f", "html",
                 "-o", str(out)]) == 0
    assert out.read_text().count("<tr data-name=") == 7
    long = tmp_path / "long.csv"
    _long().to_csv(long, index=False)
    assert main(["leaderboard", str(long), "-m", "s:higher", "-m", "t:higher", "--bootstrap", "50",
                 "--prompt-column", "prompt", "-f", "csv"]) == 0
    first = capsys.readouterr().out.splitlines()[1]
    assert first.startswith("top,") and first.endswith(",1,1")


def test_tiny_and_infinite_values_rank_as_values():
    # 1e-300 (a p-value) used to overflow the rounding into NaN and tie with its neighbour.
    assert competition_rank([1e-300, 2e-300, 0.5], higher_is_better=False).tolist() == [1, 2, 3]
    assert competition_rank([0.1 + 0.2, 0.3, 1e-310], higher_is_better=True).tolist() == [1, 1, 3]
    # +inf (PSNR of identical frames) is the best value, not a missing one; NaN stays last.
    assert competition_rank([np.inf, 1.0, -np.inf, np.nan]).tolist() == [1, 2, 3, 4]
    assert competition_rank([np.inf, 1.0, np.nan], higher_is_better=False).tolist() == [2, 1, 3]


def test_a_metric_named_like_an_output_column():
    df = pd.DataFrame({"model": ["A", "B", "C"], "score": [0.9, 0.5, 0.7], "n": [1, 2, 3]})
    recs = to_records(rank_table(df, "model", ["score:higher", "n:lower"]))
    # The rank-sum JSON keeps its exact shape even when a metric is called "score".
    assert [sorted(r) for r in recs] == [["name", "overall_rank", "rank_sum", "ranks",
                                          "values"]] * 3
    assert recs[0]["values"] == {"score": 0.9, "n": 1.0}
    # The weighted score would overwrite the metric's values: refused, not corrupted.
    with pytest.raises(InputError, match="'score'"):
        weighted_table(df, "model", ["score:higher", "n:lower"])
    with pytest.raises(InputError, match="'rank_sum'"):
        rank_table(df.rename(columns={"n": "rank_sum"}), "model", ["score:higher", "rank_sum:higher"])


def test_markdown_escapes_names_that_look_like_html_or_split_cells():
    from videojury.report.leaderboard import to_markdown

    df = pd.DataFrame({"name": ["<b>bold</b> model", "a|b"], "srcc": [0.8, 0.7]})
    md = to_markdown(rank_table(df, "name", ["srcc:higher"]))
    assert "&lt;b&gt;bold&lt;/b&gt; model" in md and "<b>" not in md
    assert "a\\|b" in md


def test_directions_come_from_field_metadata_and_unknown_ones_are_refused(tmp_path, capsys):
    df = pd.DataFrame({"model": ["A", "B", "C"], "niqe": [3.0, 5.0, 4.0], "clip": [0.2, 0.3, 0.1]})
    # Without metadata nothing says NIQE is lower-is-better: refused, naming both columns.
    with pytest.raises(InputError, match=r"direction unknown for metric column\(s\) 'niqe', 'clip'"):
        rank_table(df, "model", ["niqe", "clip"])
    path = tmp_path / "scores.parquet"
    write_table(df, path, fields=[ResultField("niqe", "niqe", False), ResultField("clip", "clip", True)])
    assert main(["leaderboard", str(path), "-m", "niqe", "-m", "clip", "-f", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert {r["name"]: r["ranks"] for r in recs} == {"A": {"niqe": 1, "clip": 2}, "B": {"niqe": 3, "clip": 1},
                                                     "C": {"niqe": 2, "clip": 3}}
    # An explicit direction overrides the metadata; a foreign copy needs one.
    assert main(["leaderboard", str(path), "-m", "niqe:higher", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "B"
    df.to_csv(tmp_path / "foreign.csv", index=False)
    assert main(["leaderboard", str(tmp_path / "foreign.csv"), "-m", "niqe"]) == 2
    err = capsys.readouterr().err
    assert "foreign.csv" in err and "'niqe'" in err and "niqe:lower" in err
