"""``videojury bench``: finding videos, checking them against the suite, scoring, ranking,
resuming after a kill, and the clear messages for broken layouts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from videojury.bench import check_videos, discover_videos, load_result, parse_name, run_bench
from videojury.bench.runner import qa_field_of
from videojury.bench.aggregate import task_accuracy
from videojury.bench.synthetic import DEFAULT_MODELS, human_answers_manifest, make_synthetic_bench
from videojury.cli import main
from videojury.data.suites import load_suite
from videojury.errors import InputError, MetricError
from videojury.metrics import Metric, ScoreField, list_metrics
from videojury.metrics import base as metrics_base
from videojury.video import FramePolicy

ROOT = Path(__file__).resolve().parents[1]
LEVEL_ORDER = [name for name, _ in DEFAULT_MODELS]  # t2v-level1 (best) .. t2v-level3 (worst)
# Weight-free metrics that are quick on 96x72 clips (NIQE needs larger frames; dynamic_degree's
# optical flow takes seconds). Those not registered in this checkout are left out.
FAST_WEIGHT_FREE = ("flicker", "frozen", "motion_smoothness", "brisque", "piqe")


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> tuple[Path, Path]:
    """Three fake T2V models (degradation levels 1-3) x the demo suite's six prompts."""
    return make_synthetic_bench(tmp_path_factory.mktemp("bench"))


def _copy_layout(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_parse_name():
    assert parse_name("p003") == ("p003", None)
    assert parse_name("p003-2") == ("p003", 2)
    assert parse_name("A 3D model of a house.-4") == ("A 3D model of a house.", 4)
    # A known id that itself ends in -<digits> is not split.
    assert parse_name("clip-1", {"clip-1"}) == ("clip-1", None)
    assert parse_name("clip-1-0", {"clip-1"}) == ("clip-1", 0)


def test_clean_layout_has_no_problems(synth):
    suite_path, videos = synth
    check = check_videos(load_suite(suite_path), videos)
    assert check.problems() == []
    assert check.models == LEVEL_ORDER
    assert check.summary() == "3 models x 6 of 6 prompts: 18 videos to score"


def test_samples_and_subfolders(tmp_path, synth):
    suite_path, videos = synth
    root = tmp_path / "v"
    # VBench-style: <model>/<dimension>/<prompt_id>-<k>.mp4
    for k in range(2):
        dst = root / "gen" / "motion" / f"p001-{k}.mp4"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(videos / "t2v-level1" / "p001.mp4", dst)
    vs = discover_videos(root, load_suite(suite_path))
    assert vs.table[["model", "prompt_id", "sample"]].values.tolist() == [
        ["gen", "p001", 0], ["gen", "p001", 1]]
    assert vs.table["rel"].tolist() == ["gen/motion/p001-0.mp4", "gen/motion/p001-1.mp4"]


def test_missing_unknown_unexpected_and_empty_model_are_reported(tmp_path, synth):
    suite_path, videos = synth
    root = _copy_layout(videos, tmp_path / "videos")
    (root / "t2v-level2" / "p003.mp4").unlink()  # a missing video
    shutil.copy(root / "t2v-level1" / "p000.mp4", root / "t2v-level1" / "p999.mp4")  # unknown id
    (root / "t2v-level1" / "notes.txt").write_text("prompts were rewritten\n")  # not a video
    (root / "stray.mp4").write_bytes(b"")  # outside any model folder
    (root / "t2v-level4").mkdir()  # a model folder with no videos
    (root / ".DS_Store").write_bytes(b"")  # ignored
    check = check_videos(load_suite(suite_path), root)
    msgs = check.problems()
    text = "\n".join(msgs)
    assert "model folder 't2v-level4' has no videos" in text
    assert ("1 video(s) have a prompt_id that is not in suite 'demo' ('p999'); they are "
            "skipped: t2v-level1/p999.mp4") in text
    assert "t2v-level1/notes.txt (not a video file)" in text
    assert "stray.mp4 (a video outside any model folder" in text
    assert "model 't2v-level2' has no video for 1 of 6 prompts: p003" in text
    assert ".DS_Store" not in text
    assert len(msgs) == 4
    assert check.summary() == "3 models x 6 of 6 prompts: 17 videos to score"

    # The CLI prints them before scoring; --strict stops; --check scores nothing.
    assert main(["bench", str(suite_path), str(root), "-m", "flicker", "--check"]) == 1
    assert main(["bench", str(suite_path), str(root), "-m", "flicker", "--strict",
                 "--no-store", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_cli_messages_before_scoring(tmp_path, synth, capsys):
    suite_path, videos = synth
    root = _copy_layout(videos, tmp_path / "videos")
    (root / "t2v-level3" / "p005.mp4").unlink()
    assert main(["bench", str(suite_path), str(root), "-m", "flicker", "--check"]) == 1
    err = capsys.readouterr().err
    assert "warning: model 't2v-level3' has no video for 1 of 6 prompts: p005" in err
    assert "3 models x 6 of 6 prompts: 17 videos to score" in err


def test_fatal_inputs_give_clear_messages(tmp_path, synth, capsys):
    suite_path, videos = synth
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["bench", str(empty), str(videos), "--check"]) == 2
    assert "empty.jsonl: the suite has no prompts" in capsys.readouterr().err
    header_only = tmp_path / "header.csv"
    header_only.write_text("prompt_id,prompt\n")
    with pytest.raises(InputError, match="the suite has no prompts"):
        load_suite(header_only)

    no_models = tmp_path / "nomodels"
    no_models.mkdir()
    with pytest.raises(InputError, match="no model folders found"):
        check_videos(load_suite(suite_path), no_models)
    (no_models / "gen-a").mkdir()
    with pytest.raises(InputError, match=r"the model folders \(gen-a\) hold no videos"):
        check_videos(load_suite(suite_path), no_models)

    other = tmp_path / "other"
    (other / "gen").mkdir(parents=True)
    shutil.copy(videos / "t2v-level1" / "p000.mp4", other / "gen" / "clip_a.mp4")
    with pytest.raises(InputError, match="no video in .* matches a prompt of suite 'demo': "
                                         "videos are named like 'clip_a'"):
        check_videos(load_suite(suite_path), other)

    manifest = tmp_path / "m.csv"
    manifest.write_text("video,prompt_id\na.mp4,p000\n")
    with pytest.raises(InputError, match="m.csv: no 'model' column"):
        check_videos(load_suite(suite_path), manifest)


def test_manifest_layout_and_missing_files(tmp_path, synth):
    suite_path, videos = synth
    rows = [{"video": f"videos/{m}/{p}.mp4", "model": m, "prompt_id": p}
            for m in LEVEL_ORDER for p in ("p000", "p001")]
    rows.append({"video": "videos/t2v-level1/gone.mp4", "model": "t2v-level1",
                 "prompt_id": "p002"})
    manifest = videos.parent / "two_prompts.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    check = check_videos(load_suite(suite_path), manifest)
    text = "\n".join(check.problems())
    assert "1 video file(s) listed in" in text and "videos/t2v-level1/gone.mp4" in text
    assert "model 't2v-level1' has no video for 4 of 6 prompts: p002, p003, p004, p005" in text
    assert len(check.matched) == 6


def _ranking(result, column: str) -> list[str]:
    f = next(f for f in result.fields + [None] if f is None or f.column == column)
    hib = True if f is None else f.higher_is_better
    pm = result.per_model.sort_values(column, ascending=not hib, kind="mergesort")
    return pm["model"].tolist()


def test_bench_ranks_models_in_degradation_order(synth, tmp_path):
    suite_path, videos = synth
    metrics = [m for m in FAST_WEIGHT_FREE if m in list_metrics()]
    check = check_videos(load_suite(suite_path), videos)
    result = run_bench(check, metrics, tmp_path / "s.sqlite", bootstrap=200)
    assert result.n_failed == 0
    for f in result.fields:
        if f.column == "is_dynamic":  # a 0/1 flag, tied for every model
            continue
        assert _ranking(result, f.column) == LEVEL_ORDER, f.column
    board = result.leaderboard
    assert board["model"].tolist() == LEVEL_ORDER
    assert board["overall_rank"].tolist() == [1, 2, 3]
    iv = result.intervals.set_index("model")
    assert iv.loc["t2v-level1", "rank_lo"] == 1
    # Both task dimensions of the demo suite are aggregated for every model and field.
    dims = result.per_dimension
    assert set(dims["dimension"]) == {"multiple_objects", "motion"}
    assert len(dims) == 3 * 2 * len(result.fields)
    assert (dims["n"] == 3).all()  # three prompts per dimension


def test_resume_after_sigkill_then_report(synth, tmp_path):
    suite_path, videos = synth
    store = tmp_path / "s.sqlite"
    out = tmp_path / "out"
    code = ("import sys; sys.path.insert(0, %r); import tests._plugins; "
            "from videojury.cli import main; sys.exit(main(sys.argv[1:]))" % str(ROOT))
    cmd = [sys.executable, "-c", code, "bench", str(suite_path), str(videos),
           "-m", "test_slow_mean:sleep=0.1", "-m", "flicker", "--store", str(store),
           "--out", str(out), "--bootstrap", "0", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=ROOT)
    done = 0
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if store.exists():
            try:
                with sqlite3.connect(store, timeout=5) as c:
                    done = c.execute("SELECT COUNT(*) FROM results WHERE metric="
                                     "'test_slow_mean'").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if done >= 3:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(store) as c:
        kept = c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert 3 <= kept < 36  # 18 videos x 2 metrics
    assert not (out / "bench.json").exists()  # killed before writing anything

    rerun = subprocess.run(cmd + ["--report"], capture_output=True, text=True, timeout=120,
                           cwd=ROOT)
    assert rerun.returncode == 0, rerun.stderr
    assert f"36 results: {kept} cached, {36 - kept} to compute" in rerun.stderr
    assert f"36 results: {36 - kept} computed, {kept} cached, 0 failed" in rerun.stderr
    with sqlite3.connect(store) as c:
        assert c.execute("SELECT COUNT(*) FROM results WHERE status='ok'").fetchone()[0] == 36
    board = json.loads((out / "leaderboard.json").read_text())
    assert [r["name"] for r in board] == LEVEL_ORDER  # flicker and grey level both rank
    html = (out / "report.html").read_text()
    assert html.count("<tr data-name=") == 3 and "data:image/png;base64," in html
    assert (out / "report.md").exists() and (out / "report_files" / "profiles.png").exists()


def test_cli_bench_outputs_and_report_command(synth, tmp_path, capsys):
    suite_path, videos = synth
    out = tmp_path / "out"
    assert main(["bench", str(suite_path), str(videos), "-m", "flicker", "-m", "frozen",
                 "--store", str(tmp_path / "s.sqlite"), "--out", str(out),
                 "--bootstrap", "100"]) == 0
    captured = capsys.readouterr()
    assert "36 results: 0 cached, 36 to compute" in captured.err
    assert "Leaderboard (demo)" in captured.out
    for name in ("scores.csv", "models.csv", "dimensions.csv", "leaderboard.md",
                 "leaderboard.csv", "leaderboard.json", "rank_intervals.csv", "suite.jsonl",
                 "bench.json"):
        assert (out / name).exists(), name
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 18 and scores["error"].isna().all()
    meta = json.loads((out / "bench.json").read_text())
    assert meta["ranked"] == ["flicker", "frozen_ratio", "frozen_longest"]
    md = (out / "leaderboard.md").read_text()
    assert "\N{FIRST PLACE MEDAL} 1 | t2v-level1" in md
    # The report is rebuilt from the folder alone.
    assert main(["report", str(out), "--examples", "1"]) == 0
    html = (out / "report.html").read_text()
    assert html.count("<tr data-name=") == 3
    assert html.count('<figure class="ex">') == 3 * 2  # one best and one worst per model
    again = load_result(out)
    assert again.leaderboard["model"].tolist() == LEVEL_ORDER


def test_task_accuracy_from_human_answers(synth, tmp_path):
    suite_path, videos = synth
    suite = load_suite(suite_path)
    manifest = human_answers_manifest(videos, suite)
    check = check_videos(suite, manifest)
    assert check.problems() == []
    result = run_bench(check, ["flicker"], None, bootstrap=0)
    assert result.accuracy_source == "human"
    qa = pd.read_csv(manifest)
    assert len(result.qa) == len(qa) == 3 * 6 * 2
    # Recompute by hand from the manifest: an answer is right when it matches the suite.
    expected = {(q.question): q.expected for sp in suite.prompts for q in sp.questions}
    qa["right"] = [a.rstrip(".").lower() == expected[q] for a, q in zip(qa["answer"],
                                                                         qa["question"])]
    by_hand = qa.groupby("model")["right"].mean()
    got = result.per_model.set_index("model")["task_accuracy"]
    for m in LEVEL_ORDER:
        assert got[m] == pytest.approx(by_hand[m])
    assert "task_accuracy" in result.leaderboard.columns
    dims = result.per_dimension
    assert len(dims[dims["field"] == "task_accuracy"]) == 3 * 2


def test_task_accuracy_counts_unparsed_answers_as_wrong():
    qa = pd.DataFrame({
        "model": ["a", "a", "a", "a", "b"],
        "prompt_id": ["p1", "p1", "p2", "p2", "p1"],
        "dimension": ["x", "x", "y", "y", "x"],
        "question": ["q1", "q2", "q3", "q4", "q1"],
        "expected": ["yes", "no", "yes", "no", "yes"],
        "answer": ["Yes, it does.", "no", "I cannot tell", None, "NO."],
    })
    acc = task_accuracy(qa).set_index("model")
    assert acc.loc["a", "n_questions"] == 4
    assert acc.loc["a", "n_correct"] == 2
    assert acc.loc["a", "n_unparsed"] == 2
    assert acc.loc["a", "task_accuracy"] == 0.5
    assert acc.loc["b", "task_accuracy"] == 0.0


class _OracleQA(Metric):
    """A QA metric for tests: right on t2v-level1's videos, always 'yes' elsewhere."""

    name = "test_oracle_qa"
    needs_question = True
    fields = (ScoreField("p_yes", 0.0, 1.0, True),)

    def frame_policy(self):
        return FramePolicy.uniform(1)

    def score(self, frames, item):
        if "t2v-level1" in item.video:
            return {"p_yes": 1.0 if item.extra["expected"] == "yes" else 0.0}
        return {"p_yes": 0.9}


def test_task_accuracy_from_a_qa_metric(synth):
    suite_path, videos = synth
    metrics_base.register_metric(_OracleQA)
    try:
        check = check_videos(load_suite(suite_path), videos)
        result = run_bench(check, ["flicker", "test_oracle_qa"], None, bootstrap=0)
    finally:
        metrics_base._REGISTRY.pop("test_oracle_qa", None)
    assert result.accuracy_source == "test_oracle_qa"
    acc = result.per_model.set_index("model")["task_accuracy"]
    # Level 1 answers every question right; the others say yes to all, and half the demo
    # suite's questions expect yes.
    assert acc.to_dict() == {"t2v-level1": 1.0, "t2v-level2": 0.5, "t2v-level3": 0.5}
    assert len(result.qa) == 18 * 2 and np.isin(result.qa["p_yes"], [0.0, 1.0, 0.9]).all()
    board = result.leaderboard.set_index("model")
    assert board.loc["t2v-level2", "rank:task_accuracy"] == 2  # tie: 1, 2, 2
    assert board.loc["t2v-level3", "rank:task_accuracy"] == 2


def _qa_metric(*names: str) -> Metric:
    cls = type("FakeQA", (Metric,), {"name": "fake_qa", "needs_question": True,
                                    "fields": tuple(ScoreField(n, 0.0, 1.0, True) for n in names)})
    return cls()


def test_qa_answer_field_is_found():
    # The VLM QA metric's fields: the 0/1 answer wins over the probabilities.
    assert qa_field_of(_qa_metric("qa_p_yes", "qa_p_yes_norm", "qa_yes")) == "qa_yes"
    assert qa_field_of(_qa_metric("qa_p_yes", "qa_p_yes_norm")) == "qa_p_yes_norm"
    assert qa_field_of(_qa_metric("p_yes")) == "p_yes"
    assert qa_field_of(_qa_metric("agreement")) == "agreement"  # the only [0, 1] field
    assert qa_field_of(_qa_metric("qa_p_yes", "qa_yes"), "qa_p_yes") == "qa_p_yes"
    with pytest.raises(MetricError, match="pass --qa-field"):
        qa_field_of(_qa_metric("a", "b"))
    with pytest.raises(MetricError, match="has no field 'c'"):
        qa_field_of(_qa_metric("a", "b"), "c")


def test_manifest_with_a_row_per_question_counts_videos_not_rows(tmp_path, synth):
    # Human answers list each video once per question; the summary and the messages count
    # files, not rows (it used to say "12 videos to score" for 6 files).
    suite_path, videos = synth
    rows = [{"video": f"videos/{m}/{p}.mp4", "model": m, "prompt_id": p, "question": q,
             "answer": "yes"}
            for m in LEVEL_ORDER[:2] for p in ("p000", "p001", "p002", "p003") for q in "ab"]
    # level2's p002 file does not exist; level1's p003 file is listed under an unknown id.
    rows = [dict(r, video=r["video"].replace("videos/t2v-level2/p002", "videos/x/p002"))
            for r in rows]
    rows = [dict(r, prompt_id="zzz") if r["video"] == "videos/t2v-level1/p003.mp4" else r
            for r in rows]
    manifest = videos.parent / "per_question.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    check = check_videos(load_suite(suite_path), manifest)
    assert check.summary() == "2 models x 4 of 6 prompts: 6 videos to score"
    text = "\n".join(check.problems())
    assert "1 video file(s) listed in" in text
    assert "1 video(s) have a prompt_id that is not in suite" in text


def test_model_named_like_a_missing_value_survives_the_round_trip(tmp_path):
    # pandas reads "NA" and "None" as missing by default; a model may be called that.
    suite_path, videos = make_synthetic_bench(tmp_path / "b", models=[("NA", 1), ("None", 2)],
                                              n_prompts=2)
    out = tmp_path / "out"
    assert main(["bench", str(suite_path), str(videos), "-m", "flicker", "--no-store",
                 "--out", str(out), "--bootstrap", "0", "--quiet"]) == 0
    again = load_result(out)
    assert sorted(again.scores["model"]) == ["NA", "NA", "None", "None"]
    assert sorted(again.leaderboard["model"]) == ["NA", "None"]
