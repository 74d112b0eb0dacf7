"""VBench's protocol in ``videojury bench``: each dimension on its own prompts, VBench's
eval_results format, VBench's Quality/Semantic/Total, published results in the leaderboard."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from videojury.bench import check_videos
from videojury.bench.vbench import (
    DIM_WEIGHT, NORMALIZE, QUALITY_LIST, SEMANTIC_LIST, read_eval_results, run_vbench,
    select_dimensions, vbench_scores,
)
from videojury.cli import main
from videojury.data.suites import load_suite
from videojury.errors import InputError
from videojury.video import write_video

PROMPTS = [
    ("a calm lake at dawn", ["temporal_flickering"]),
    ("a still life of apples", ["temporal_flickering", "subject_consistency"]),
    ("a dog running on grass", ["subject_consistency", "dynamic_degree", "motion_smoothness"]),
    ("a cat, Van Gogh style", ["appearance_style"]),
]


def _vbench_flicker(path: str) -> float:
    """VBench's temporal_flickering.cal_score, restated: OpenCV frames, float32 absdiff."""
    cap = cv2.VideoCapture(path)
    frames = []
    while cap.isOpened():
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    maes = [np.mean(cv2.absdiff(np.array(a, dtype=np.float32), np.array(b, dtype=np.float32)))
            for a, b in zip(frames[:-1], frames[1:])]
    return (255.0 - np.mean(np.array(maes)).item()) / 255.0


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    root = tmp_path_factory.mktemp("vb")
    info = [{"prompt_en": p, "dimension": d} for p, d in PROMPTS]
    info[3]["auxiliary_info"] = {"appearance_style": {"appearance_style": "Van Gogh style"}}
    suite = root / "VBench_full_info.json"
    suite.write_text(json.dumps(info), encoding="utf-8")
    rng = np.random.default_rng(3)
    videos = root / "videos"
    for m, noise in (("modelA", 2), ("modelB", 12)):
        for i, (p, _) in enumerate(PROMPTS):
            for k in range(2):
                base = rng.integers(40, 200, size=(1, 32, 48, 3))
                jitter = rng.integers(-noise, noise + 1, size=(6, 32, 48, 3))
                frames = np.clip(base + jitter, 0, 255).astype(np.uint8)
                write_video(videos / m / f"{p}-{k}.mp4", frames, fps=8)
    return suite, videos


def test_cli_temporal_flickering_writes_vbench_results(layout, tmp_path):
    suite, videos = layout
    out = tmp_path / "out"
    rc = main(["bench", str(suite), str(videos), "--dimension", "temporal_flickering",
               "--out", str(out), "--no-store", "--quiet"])
    assert rc == 0
    for model in ("modelA", "modelB"):
        res = json.loads((out / "vbench" / f"{model}_eval_results.json").read_text())
        assert list(res) == ["temporal_flickering"]
        mean, per_video = res["temporal_flickering"]
        # Exactly the videos of that dimension's two prompts, in VBench's order
        # (prompt file order, then the sample index), with VBench's own per-video values.
        want = [str(videos / model / f"{p}-{k}.mp4") for p, _ in PROMPTS[:2] for k in range(2)]
        assert [v["video_path"] for v in per_video] == want
        for v in per_video:
            # VBench rounds each pair's MAE to float32 (np.mean of a float32 array):
            # about 1e-9 on the score; videojury keeps it in float64.
            assert v["video_results"] == pytest.approx(_vbench_flicker(v["video_path"]),
                                                       abs=1e-8)
        assert mean == pytest.approx(np.mean([v["video_results"] for v in per_video]), abs=1e-12)
    board = (out / "leaderboard.csv").read_text()
    assert "temporal_flickering" in board and "modelA" in board
    # Less noise flickers less: model A ranks first.
    lines = [ln for ln in board.splitlines() if ln.startswith(("modelA", "modelB")) or
             ",modelA" in ln or ",modelB" in ln]
    assert "modelA" in lines[0]


def test_unknown_and_unavailable_dimensions(layout):
    suite, videos = layout
    check = check_videos(load_suite(suite), videos)
    with pytest.raises(InputError, match="--dimension 'sharpness': not a VBench dimension"):
        select_dimensions(check, ["sharpness"])
    with pytest.raises(InputError, match="human_action.*not available in videojury yet.*UMT"):
        select_dimensions(check, ["human_action"])
    # A dimension the suite has no prompt for (here: a suite of one subject prompt).
    one = suite.parent / "one.json"
    one.write_text(json.dumps([{"prompt_en": PROMPTS[2][0], "dimension": ["subject_consistency"]}]))
    check1 = check_videos(load_suite(one), videos)
    with pytest.raises(InputError, match="temporal_flickering: no prompt of suite 'vbench' is in "
                                         "this dimension"):
        select_dimensions(check1, ["temporal_flickering"])


def test_custom_input_every_video_every_dimension(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red ball\na blue box\n", encoding="utf-8")
    frames = np.full((4, 24, 32, 3), 100, np.uint8)
    frames[1::2] += 3
    for p in ("a red ball", "a blue box"):
        write_video(tmp_path / "v" / "me" / f"{p}-0.mp4", frames, fps=8)
    check = check_videos(load_suite(prompts, "vbench"), tmp_path / "v")
    dims, custom, _ = select_dimensions(check, ["temporal_flickering"])
    assert custom and dims == ["temporal_flickering"]
    res = run_vbench(check, ["temporal_flickering"])
    assert len(res.eval_results["me"]["temporal_flickering"][1]) == 2
    # appearance_style reads VBench's per-prompt style: refused for a custom suite (or, in an
    # install without its metric, refused as unavailable).
    with pytest.raises(InputError, match="--dimension appearance_style: "):
        select_dimensions(check, ["appearance_style"])


def test_dimension_subfolders_count_for_their_dimension_only(tmp_path):
    info = [{"prompt_en": "a dog", "dimension": ["temporal_flickering", "subject_consistency"]}]
    suite = tmp_path / "VBench_full_info.json"
    suite.write_text(json.dumps(info))
    frames = np.full((4, 24, 32, 3), 90, np.uint8)
    for d in ("temporal_flickering", "subject_consistency"):
        write_video(tmp_path / "v" / "m" / d / "a dog-0.mp4", frames, fps=8)
    res = run_vbench(check_videos(load_suite(suite), tmp_path / "v"), ["temporal_flickering"])
    paths = [v["video_path"] for v in res.eval_results["m"]["temporal_flickering"][1]]
    assert paths == [str(tmp_path / "v" / "m" / "temporal_flickering" / "a dog-0.mp4")]


def test_normalised_scores_match_vbench_arithmetic():
    means = {d: 0.5 + 0.01 * i for i, d in enumerate([*QUALITY_LIST, *SEMANTIC_LIST])}
    got = vbench_scores(means)
    # VBench's cal_final_score.py, by hand: normalise, weight, weighted means, 4:1.
    norm = {d: (v - NORMALIZE[d][0]) / (NORMALIZE[d][1] - NORMALIZE[d][0]) * DIM_WEIGHT[d]
            for d, v in means.items()}
    q = sum(norm[d] for d in QUALITY_LIST) / 6.5
    s = sum(norm[d] for d in SEMANTIC_LIST) / 9
    assert got["vbench_quality"] == pytest.approx(q, abs=1e-12)
    assert got["vbench_semantic"] == pytest.approx(s, abs=1e-12)
    assert got["vbench_total"] == pytest.approx((4 * q + s) / 5, abs=1e-12)
    # Known value: temporal flickering 0.6293 is VBench's Min, so it normalises to 0.
    partial = dict(means, temporal_flickering=NORMALIZE["temporal_flickering"][0])
    assert vbench_scores(partial)["vbench_quality"] == pytest.approx(
        q - norm["temporal_flickering"] / 6.5, abs=1e-12)
    # A score needs every one of its dimensions.
    assert vbench_scores({"temporal_flickering": 0.9}) == {}
    assert set(vbench_scores({d: 0.8 for d in QUALITY_LIST})) == {"vbench_quality"}


def test_published_results_join_the_leaderboard(layout, tmp_path):
    suite, videos = layout
    pub = tmp_path / "pub"
    pub.mkdir()
    full = {d: [0.9, [{"video_path": "x.mp4", "video_results": 0.9}]]
            for d in [*QUALITY_LIST, *SEMANTIC_LIST]}
    full["dynamic_degree"] = [0.5, [{"video_path": "x.mp4", "video_results": True}]]
    (pub / "Published-1_eval_results.json").write_text(json.dumps(full))
    out = tmp_path / "out"
    rc = main(["bench", str(suite), str(videos), "--dimension", "temporal_flickering",
               "--vbench-results", str(pub), "--out", str(out), "--no-store", "--quiet"])
    assert rc == 0
    scores = json.loads((out / "vbench" / "scores.json").read_text())
    m = scores["models"]["Published-1"]
    assert m["vbench_total"] == pytest.approx(vbench_scores(
        {d: v[0] for d, v in full.items()})["vbench_total"], abs=1e-12)
    assert set(scores["models"]) == {"modelA", "modelB", "Published-1"}
    assert not (out / "vbench" / "Published-1_eval_results.json").exists()
    assert read_eval_results(pub / "Published-1_eval_results.json")["dynamic_degree"] == (0.5, 1)


def test_bad_published_file_is_one_message(tmp_path, layout, capsys):
    suite, videos = layout
    bad = tmp_path / "m_eval_results.json"
    bad.write_text('{"sharpness": [1, []]}')
    rc = main(["bench", str(suite), str(videos), "--dimension", "temporal_flickering",
               "--vbench-results", str(bad), "--out", str(tmp_path / "o"), "--no-store"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "'sharpness' is not a VBench dimension" in err and "Traceback" not in err


def test_default_dimensions_skip_missing_weights(layout, tmp_path, monkeypatch):
    suite, videos = layout
    monkeypatch.setenv("VIDEOJURY_WEIGHTS", str(tmp_path / "none"))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "none"))
    res = run_vbench(check_videos(load_suite(suite), videos))
    assert "temporal_flickering" in res.dimensions_run
    assert "dynamic_degree" not in res.dimensions_run
    notes = " ".join(res.problems)
    assert "dynamic_degree not computed" in notes and "raft-things.pth" in notes
    assert "motion_smoothness not computed" in notes and "amt-s.pth" in notes


def test_dynamic_degree_values_are_booleans(layout, monkeypatch):
    # VBench writes dynamic_degree per video as true/false and its mean as the share of
    # true. (The weight-free DIS flavour stands in for RAFT here, to keep the test fast.)
    from videojury.bench import vbench as vb

    monkeypatch.setitem(vb.METRICS, "dynamic_degree", ("dynamic_degree", "is_dynamic"))
    suite, videos = layout
    res = run_vbench(check_videos(load_suite(suite), videos), ["dynamic_degree"])
    mean, per_video = res.eval_results["modelA"]["dynamic_degree"]
    assert len(per_video) == 2 and all(isinstance(v["video_results"], bool) for v in per_video)
    assert mean == pytest.approx(np.mean([v["video_results"] for v in per_video]))
    assert [v["video_path"].endswith(f"{PROMPTS[2][0]}-{k}.mp4")
            for k, v in enumerate(per_video)] == [True, True]
