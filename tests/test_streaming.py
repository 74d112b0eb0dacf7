"""The all-frames metrics stream their frames: same scores as when every frame was
held (numbers recorded before streaming existed), nothing held, pixel budget noted."""

from __future__ import annotations

import numpy as np
import pytest

import videojury
from videojury.data.synthetic import ClipSpec, degrade, make_clip
from videojury.errors import VideoError
from videojury.video import FramePolicy, Resize, frames_from_array, sample_many, write_video
from videojury.video import sampling

# (degradation, level, seed, (width, height, frames)); written at 8 fps
CASES = [("none", 0, 0, (96, 72, 17)), ("flicker", 2, 1, (96, 72, 16)),
         ("jitter", 2, 2, (80, 64, 21)), ("freeze", 1, 3, (96, 72, 16)),
         ("noise", 3, 4, (64, 48, 30))]

SPECS = ["flicker", "frozen", "motion_smoothness", "dynamic_degree", "flicker:max_frames=7",
         "frozen:short_side=40,threshold=1.0", "motion_smoothness:short_side=40",
         "motion_smoothness:max_frames=9"]

# Scores of the clips above computed with every frame held in memory (before
# the metrics streamed), at commit eda0397.
BEFORE = {
    "flicker[flicker]": [0.9847711921863653, 0.8991534787783426, 0.9692041973039216,
                         0.9914573877390462, 0.90886820874183],
    "frozen_ratio[frozen]": [0.0, 0.0, 0.0, 0.5333333333333333, 0.0],
    "frozen_longest[frozen]": [0.0, 0.0, 0.0, 0.06666666666666667, 0.0],
    "motion_smoothness[motion_smoothness]": [0.990037194951283, 0.9042034908099041,
                                             0.9722731566584968, 0.9889324402600546,
                                             0.9276193333236072],
    "dynamic_degree": [0.04427725281384068, 0.0429834698240242, 0.10322492418748293,
                       0.03259611371622453, 0.02952113668727411],
    "is_dynamic": [1.0, 1.0, 1.0, 1.0, 1.0],
    "flicker[flicker:max_frames=7]": [0.971715446723957, 0.9432186390502703,
                                      0.9556429993872549, 0.9797187361312838,
                                      0.9041004277868555],
    "frozen_ratio[frozen:short_side=40,threshold=1.0]": [0.0, 0.0, 0.0, 0.5333333333333333,
                                                         0.0],
    "frozen_longest[frozen:short_side=40,threshold=1.0]": [0.0, 0.0, 0.0, 0.06666666666666667,
                                                           0.0],
    "motion_smoothness[motion_smoothness:short_side=40]": [0.9922176748057714,
                                                           0.9051084333104311,
                                                           0.9734411764705883,
                                                           0.9902920035938904,
                                                           0.9517191656536829],
    "motion_smoothness[motion_smoothness:max_frames=9]": [0.981666865241467, 0.9585702519819657,
                                                          0.9734754136029412,
                                                          0.9867714196017913,
                                                          0.926255276416122],
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    paths = []
    for kind, level, seed, (w, h, t) in CASES:
        clip = degrade(make_clip(seed, ClipSpec(width=w, height=h, frames=t, fps=8.0)), kind,
                       level)
        lossless = kind == "freeze"
        p = d / f"{kind}{level}_{seed}.mp4"
        write_video(p, clip, fps=8, crf=0 if lossless else 18,
                    pix_fmt="yuv444p" if lossless else "yuv420p")
        paths.append(str(p))
    return paths


def test_streamed_scores_equal_the_held_scores_recorded_before(clips):
    df = videojury.score(clips, metrics=SPECS)
    assert df["error"].isna().all()
    for col, want in BEFORE.items():
        assert df[col].tolist() == want, col  # bit for bit


@pytest.mark.parametrize("name", ["flicker", "frozen", "motion_smoothness", "dynamic_degree"])
def test_all_frames_metrics_stream(name):
    pol = videojury.load_metric(name).frame_policy()
    assert pol.stream


def test_streamed_frames_hold_nothing_and_replay_identically(clips):
    path = clips[2]
    held, streamed = FramePolicy.all(resize=Resize(short_side=40)), FramePolicy.all(
        resize=Resize(short_side=40), stream=True)
    got = sample_many(path, [held, streamed])
    fs = got[streamed]
    assert fs.streamed and fs.array is None and len(fs) == 21
    first = np.stack(list(fs.iter()))
    second = np.stack(list(fs.iter()))
    assert np.array_equal(first, got[held].array) and np.array_equal(first, second)
    assert np.array_equal(fs.materialize().array, first)


def test_streamed_policy_is_not_part_of_the_held_decode(clips):
    # niqe's 8 frames and flicker's stream: the held decode reads only what niqe needs
    got = sample_many(clips[0], [FramePolicy.uniform(2), FramePolicy.all(stream=True)])
    held = got[FramePolicy.uniform(2)]
    assert held.array.shape[0] == 2


def test_truncated_file_streamed_is_an_error_row(tmp_path, clips):
    import av

    src = write_video(tmp_path / "src.mp4", make_clip(5, ClipSpec(96, 72, 64, 8.0)), fps=8)
    fast = tmp_path / "fast.mp4"
    with av.open(str(src)) as inp, av.open(str(fast), "w", options={"movflags": "faststart"}) as o:
        s_in = inp.streams.video[0]
        s_out = o.add_stream_from_template(s_in)
        for pkt in inp.demux(s_in):
            if pkt.dts is None:
                continue
            pkt.stream = s_out
            o.mux(pkt)
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    df = videojury.score([str(cut), clips[0]], metrics=["flicker"])
    assert "truncated" in df["error"][0]
    assert df["flicker"][1] == BEFORE["flicker[flicker]"][0]


def test_pixel_budget_downscales_with_a_note(monkeypatch, tmp_path):
    clip = make_clip(0, ClipSpec(96, 72, 10, 8.0))
    pol = FramePolicy.all()
    assert frames_from_array(clip, 8, pol).notes == ()
    monkeypatch.setattr(sampling, "PIXEL_BUDGET", 30000)  # 4 frames of 96x72 fit, 10 do not
    fr = frames_from_array(clip, 8, pol)
    assert fr.array.shape == (10, 47, 63, 3)  # scale sqrt(30000 / (10 * 96 * 72)), floored
    assert 10 * 47 * 63 <= 30000
    assert fr.notes and "downscaled for memory from 96x72 to 63x47" in fr.notes[0]
    # a streamed policy holds STREAM_HOLD frames, so the same budget allows larger frames
    fs = frames_from_array(clip, 8, FramePolicy.all(stream=True))
    assert fs.notes == ()
    assert next(fs.iter()).shape == (72, 96, 3)
    # the decoder gives the same frames, with the same note
    path = write_video(tmp_path / "ten.mp4", clip, fps=8)
    held = sample_many(path, [pol])[pol]
    assert held.array.shape == (10, 47, 63, 3) and held.notes == fr.notes


def test_too_short_streamed_is_refused_before_decoding(tmp_path):
    path = write_video(tmp_path / "one.mp4", make_clip(0, ClipSpec(96, 72, 1, 8.0)), fps=8)
    with pytest.raises(VideoError, match="needs at least 2"):
        sample_many(path, [FramePolicy.all(min_frames=2, stream=True)])
