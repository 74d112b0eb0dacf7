"""Hostile inputs to leaderboards, benchmarks and reports (cases L1-L16 of the robustness
list, docs/robustness.md): each test is named by its case id and asserts the verdict.

L13 (markup in a model name), L15 and L16 (demo/bench early checks) are tested with the
other CLI-wide cases. Every input is generated here: tables, suites, tiny clips.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from videojury.analysis.leaderboard import rank_table, weighted_table
from videojury.bench import check_videos, load_result, run_bench
from videojury.bench.synthetic import make_synthetic_bench
from videojury.cli import main
from videojury.data.suites import Suite, SuitePrompt, load_suite
from videojury.errors import InputError
from videojury.run.store import Store

XSS = "<script>alert('xss')</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = "<svg onload=alert(2)>"


def _board(tmp_path: Path, rows: list[dict], *args: str, capsys=None) -> tuple[int, str, str]:
    path = tmp_path / "t.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    rc = main(["leaderboard", str(path), *args])
    out, err = capsys.readouterr() if capsys is not None else ("", "")
    return rc, out, err


# ---------------------------------------------------------------- leaderboards (L1-L5, L8)


def test_L1_rank_sum_puts_a_missing_cell_last():
    df = pd.DataFrame({"model": ["a", "b", "c"], "x": [1.0, np.nan, 3.0], "y": [1.0, 2.0, 3.0]})
    t = rank_table(df, "model", [("x", True), ("y", True)])
    ranks = dict(zip(t["model"], t["rank:x"]))
    assert ranks == {"c": 1, "a": 2, "b": 3}  # the missing value ranks after every value
    assert t["model"].tolist()[0] == "c"


def test_L2_weighted_score_of_a_model_lacking_a_metric_comes_with_a_note(tmp_path, capsys):
    # "b" lacks y, where it would be worst: its weighted score averages x alone and ranks first.
    rows = [{"model": "a", "x": 0.5, "y": 1.0}, {"model": "b", "x": 1.0, "y": None},
            {"model": "c", "x": 0.0, "y": 0.5}]
    rc, out, err = _board(tmp_path, rows, "-m", "x:higher", "-m", "y:higher", "--method", "weighted",
                          "-f", "csv", capsys=capsys)
    assert rc == 0
    first = pd.read_csv(tmp_path / "t.csv")  # the input is untouched
    assert first["y"].isna().sum() == 1
    assert out.splitlines()[1].split(",")[0] == "b"  # ranked first, as documented
    assert "warning: model 'b' has no value for 'y'" in err
    assert "averages only its other metric(s)" in err
    # The rank-sum method has nothing to warn about (a missing cell ranks last there).
    rc, out, err = _board(tmp_path, rows, "-m", "x:higher", "-m", "y:higher", "-f", "csv", capsys=capsys)
    assert rc == 0 and "warning" not in err


def test_L3_ties_everywhere_share_rank_one_with_both_methods():
    df = pd.DataFrame({"model": ["a", "b", "c"], "x": [1.0] * 3, "y": [2.0] * 3})
    specs = [("x", True), ("y", False)]
    assert rank_table(df, "model", specs)["overall_rank"].tolist() == [1, 1, 1]
    assert weighted_table(df, "model", specs)["overall_rank"].tolist() == [1, 1, 1]


def test_L4_one_model(tmp_path, capsys):
    rc, out, _ = _board(tmp_path, [{"model": "only", "x": 0.3}], "-m", "x:higher", "-f", "json",
                        capsys=capsys)
    assert rc == 0
    rows = json.loads(out)
    assert len(rows) == 1 and rows[0]["name"] == "only" and rows[0]["overall_rank"] == 1


def test_L5_html_leaderboard_escapes_names_and_title(tmp_path, capsys):
    rows = [{"model": XSS, "x": 1.0}, {"model": IMG, "x": 2.0}]
    rc, out, _ = _board(tmp_path, rows, "-m", "x:higher", "-f", "html", "--title", SVG, capsys=capsys)
    assert rc == 0
    assert XSS not in out and IMG not in out and SVG not in out
    assert "&lt;script&gt;" in out and "&lt;img" in out and "&lt;svg" in out


def test_L8_strings_infinities_and_empty_tables(tmp_path, capsys):
    rc, _, err = _board(tmp_path, [{"model": "a", "x": "fast"}, {"model": "b", "x": "1"}],
                        "-m", "x:higher", capsys=capsys)
    assert rc == 2 and "x" in err and "fast" in err and "Traceback" not in err
    rc, out, _ = _board(tmp_path, [{"model": "a", "x": "inf"}, {"model": "b", "x": "1"}],
                        "-m", "x:higher", "-f", "csv", capsys=capsys)
    assert rc == 0 and out.splitlines()[1].split(",")[0] == "a"  # inf ranks as a value
    (tmp_path / "e.csv").write_text("model,x\n")
    assert main(["leaderboard", str(tmp_path / "e.csv"), "-m", "x:higher"]) == 2
    err = capsys.readouterr().err
    assert "has no rows" in err and "Traceback" not in err


# ---------------------------------------------------------------- benchmarks and reports


@pytest.fixture(scope="module")
def one_model(tmp_path_factory) -> tuple[Path, Path]:
    """One fake generator's clips for three prompts of the demo suite."""
    return make_synthetic_bench(tmp_path_factory.mktemp("one"), models=[("src", 1)], n_prompts=3)


def test_L9_models_sharing_video_files_stay_separate_and_each_file_scores_once(tmp_path,
                                                                                one_model):
    suite_path, videos = one_model
    files = sorted((videos / "src").glob("*.mp4"))
    rows = [{"video": str(f), "model": m, "prompt_id": f.stem}
            for m in ("m1", "m2", "m3") for f in files]
    manifest = tmp_path / "shared.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    check = check_videos(load_suite(suite_path), manifest)
    assert check.models == ["m1", "m2", "m3"]
    store = tmp_path / "s.sqlite"
    res = run_bench(check, ["flicker"], store, bootstrap=0)
    assert sorted(res.leaderboard["model"]) == ["m1", "m2", "m3"]
    assert len(res.scores) == 9 and res.scores["error"].isna().all()
    assert res.per_model["n_videos"].tolist() == [3, 3, 3]
    # Same files, same scores: the three models tie.
    assert res.leaderboard["overall_rank"].tolist() == [1, 1, 1]
    with Store(store) as st:
        assert st.count() == len(files)  # each file scored once, not once per model
    # Written and read back, still three models.
    out = tmp_path / "out"
    res.write(out)
    assert sorted(load_result(out).leaderboard["model"]) == ["m1", "m2", "m3"]


@pytest.fixture(scope="module")
def hostile_bench(tmp_path_factory) -> Path:
    """A bench output folder whose model, dimension, prompt id and prompt are markup."""
    root = tmp_path_factory.mktemp("hostile")
    suite = Suite("hostile", [
        SuitePrompt("p0" + IMG, "a cat " + XSS, (SVG,)),
        SuitePrompt("p1", "a dog <b>bold</b>", ("motion",)),
    ])
    suite_path = suite.write(root / "hostile.jsonl")
    src_suite, src_videos = make_synthetic_bench(root / "src", models=[("good", 1), ("bad", 3)],
                                                 n_prompts=2)
    rows = []
    for model, folder in ((XSS, "good"), ("plain", "bad")):
        for k, pid in enumerate(("p0" + IMG, "p1")):
            src = sorted((src_videos / folder).glob("*.mp4"))[k]
            rows.append({"video": str(src), "model": model, "prompt_id": pid})
    manifest = root / "m.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    out = root / "out"
    assert main(["bench", str(suite_path), str(manifest), "-m", "flicker", "--no-store",
                 "--out", str(out), "--bootstrap", "0", "--quiet"]) == 0
    assert main(["report", str(out), "--examples", "1", "--title", "Report " + SVG]) == 0
    return out


def test_L6_html_report_escapes_every_user_name(hostile_bench):
    html = (hostile_bench / "report.html").read_text(encoding="utf-8")
    for raw in (XSS, IMG, SVG, "<b>bold</b>"):
        assert raw not in html, raw
    assert "&lt;script&gt;" in html
    # The page's own scripts are the only <script> tags left.
    assert html.count("<script") == html.count("</script>")
    assert "alert('xss')</script>" not in html


def test_L7_markdown_report_escapes_headings_titles_and_cells(hostile_bench):
    md = (hostile_bench / "report.md").read_text(encoding="utf-8")
    for raw in (XSS, IMG, SVG, "<b>bold</b>"):
        assert raw not in md, raw
    assert "### &lt;script&gt;alert('xss')&lt;/script&gt;" in md  # the model's heading
    assert md.startswith("# Report &lt;svg onload=alert(2)&gt;\n")
    assert "<" not in md.replace("<br>", "")  # no raw tag of any kind


def test_L10_a_model_whose_videos_all_fail_ranks_last_with_dash_cells(tmp_path, one_model):
    suite_path, videos = one_model
    broken = tmp_path / "broken"
    broken.mkdir()
    rows = []
    for f in sorted((videos / "src").glob("*.mp4")):
        bad = broken / f.name
        bad.write_bytes(b"\x00not a video\x00" * 50)
        rows += [{"video": str(f), "model": "works", "prompt_id": f.stem},
                 {"video": str(bad), "model": "fails", "prompt_id": f.stem}]
    manifest = tmp_path / "m.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    out = tmp_path / "out"
    rc = main(["bench", str(suite_path), str(manifest), "-m", "flicker", "--no-store",
               "--out", str(out), "--bootstrap", "0", "--quiet"])
    assert rc == 1  # some items failed
    res = load_result(out)
    assert res.leaderboard["model"].tolist() == ["works", "fails"]
    failed = res.scores[res.scores["model"] == "fails"]
    assert failed["error"].notna().all()
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    fails_line = next(line for line in md.splitlines() if "| fails |" in line)
    assert "\u2013" in fails_line


def test_L11_report_on_a_folder_without_models_csv(tmp_path, hostile_bench, capsys):
    d = tmp_path / "copy"
    shutil.copytree(hostile_bench, d)
    (d / "models.csv").unlink()
    assert main(["report", str(d)]) == 2
    err = capsys.readouterr().err
    assert "models.csv: missing" in err and "Traceback" not in err
    with pytest.raises(InputError, match="models.csv"):
        load_result(d)
    # A folder that is not a bench output at all.
    assert main(["report", str(tmp_path)]) == 2
    assert "no bench.json" in capsys.readouterr().err
    # A truncated scores.csv is a message about the folder, not a parser traceback.
    shutil.copy(hostile_bench / "models.csv", d / "models.csv")
    (d / "scores.csv").write_text("")
    assert main(["report", str(d)]) == 2
    err = capsys.readouterr().err
    assert "cannot read the bench results" in err and "Traceback" not in err


def test_L12_report_after_the_videos_moved(tmp_path, one_model):
    suite_path, videos = one_model
    moved = tmp_path / "videos"
    shutil.copytree(videos, moved)
    out = tmp_path / "out"
    assert main(["bench", str(suite_path), str(moved), "-m", "flicker", "--no-store", "--out",
                 str(out), "--bootstrap", "0", "--quiet"]) == 0
    shutil.rmtree(moved)
    assert main(["report", str(out), "--examples", "1"]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "could not be read" in html


def test_L11_report_refuses_bad_output_paths_before_reading(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    for args, msg in ((["--html", str(tmp_path / "afile" / "r.html")], "is a file, not a folder"),
                      (["--markdown", str(tmp_path / "r.txt")], "unknown output format '.txt'"),
                      (["--examples", "-1"], "--examples must be >= 0")):
        assert main(["report", str(tmp_path / "no-such-folder"), *args]) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err
