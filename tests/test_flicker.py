"""flicker and frozen: VBench's formula, reproduced exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import videojury
from videojury.data.synthetic import degrade
from videojury.video import write_video


def vbench_temporal_flickering(path: str) -> float:
    """VBench's temporal_flickering, restated: OpenCV decode (BGR), every frame,
    cv2.absdiff per consecutive pair, mean over pixels and channels, mean over
    pairs, (255 - mean) / 255."""
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    maes = [np.mean(cv2.absdiff(frames[i], frames[i + 1])) for i in range(len(frames) - 1)]
    return (255.0 - np.mean(maes)) / 255.0


def test_flicker_matches_vbench_on_real_decoded_videos(tmp_path, clip):
    paths = []
    for kind, level in [("none", 0), ("flicker", 2), ("noise", 3), ("jitter", 1)]:
        p = tmp_path / f"{kind}{level}.mp4"
        write_video(p, degrade(clip, kind, level), fps=8)
        paths.append(str(p))
    ours = videojury.score(paths, metrics=["flicker"])["flicker"].to_numpy()
    ref = np.array([vbench_temporal_flickering(p) for p in paths])
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_more_flicker_lowers_flicker(tmp_path, clip):
    paths = []
    for level in range(4):
        p = tmp_path / f"f{level}.mp4"
        write_video(p, degrade(clip, "flicker", level), fps=8)
        paths.append(str(p))
    scores = videojury.score(paths, metrics=["flicker"])["flicker"].to_numpy()
    assert np.all(np.diff(scores) < 0), scores


def test_static_video_scores_one_and_is_frozen(tmp_path, clip):
    p = tmp_path / "still.mp4"
    write_video(p, np.repeat(clip[:1], 10, axis=0), fps=8, crf=0, pix_fmt="yuv444p")
    df = videojury.score([str(p)], metrics=["flicker", "frozen"])
    assert df["flicker"][0] == pytest.approx(1.0)
    assert df["frozen_ratio"][0] == 1.0 and df["frozen_longest"][0] == 1.0


def test_frozen_counts_repeats(tmp_path, clip):
    paths = []
    for level in (1, 2):  # each frame held 2 or 4 times
        p = tmp_path / f"held{level}.mp4"
        write_video(p, degrade(clip, "freeze", level), fps=8, crf=0, pix_fmt="yuv444p")
        paths.append(str(p))
    df = videojury.score(paths, metrics=["frozen"])
    # held twice: pairs 0-1, 2-3, ... repeat: 8 of 15, runs of 1; held 4 times: 12 of 15, runs of 3
    assert df["frozen_ratio"].tolist() == pytest.approx([8 / 15, 12 / 15])
    assert df["frozen_longest"].tolist() == pytest.approx([1 / 15, 3 / 15])


def test_one_frame_video_is_an_error_not_a_nan(tmp_path, clip):
    p = tmp_path / "one.mp4"
    write_video(p, clip[:1], fps=8)
    df = videojury.score([str(p)], metrics=["flicker"])
    assert np.isnan(df["flicker"][0])
    assert "needs at least 2" in df["error"][0]
