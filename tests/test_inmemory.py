"""Frames in memory: ``frames_from_array`` samples like the decoder, and ``metric(video,
fps=...)`` equals ``videojury.score`` on the same frames in a lossless (FFV1) file."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

import videojury
from videojury.data.synthetic import ClipSpec, degrade, make_clip
from videojury.errors import InputError, MetricError, VideoError
from videojury.metrics.base import Metric, ScoreField, metric_class
from videojury.video import (
    FramePolicy,
    Resize,
    as_video_array,
    frames_from_array,
    sample,
    sample_many,
    write_video,
)

from ._vlm_models import tiny_models  # noqa: F401  (fixture)

FPS = 16
SPEC = ClipSpec(width=128, height=112, frames=24, fps=FPS)


def _lossless(path, clip, fps=FPS):
    # FFV1 in packed RGB: decoding gives back exactly the input pixels
    return write_video(path, clip, fps=fps, codec="ffv1", crf=None, pix_fmt="bgr0")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("inmem")
    out = []
    for i, (kind, level) in enumerate([("none", 0), ("noise", 2), ("jitter", 2)]):
        clip = degrade(make_clip(i, SPEC), kind, level)
        out.append((clip, str(_lossless(d / f"c{i}.mkv", clip))))
    return out


POLICIES = [
    FramePolicy.uniform(8), FramePolicy.uniform(5, resize=Resize(short_side=40)),
    FramePolicy.fps(4.0, max_frames=3), FramePolicy.all(resize=Resize(size=(50, 30))),
    FramePolicy.all(max_frames=7, resize=Resize(max_pixels=2000)),
    FramePolicy.all(resize=Resize(short_side=200)),  # upscaling
]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.describe())
def test_frames_from_array_equals_the_decoder(clips, policy):
    clip, path = clips[1]
    assert np.array_equal(sample(path, FramePolicy.all()).array, clip)  # truly lossless
    mem = frames_from_array(clip, FPS, policy)
    dec = sample(path, policy)
    assert np.array_equal(mem.indices, dec.indices)
    assert mem.array.dtype == np.uint8 and np.array_equal(mem.array, dec.array)
    np.testing.assert_allclose(mem.timestamps, dec.timestamps, atol=1e-3)
    streamed = frames_from_array(clip, FPS, FramePolicy(**{**policy.__dict__, "stream": True}))
    assert streamed.array is None
    assert np.array_equal(np.stack(list(streamed.iter())), dec.array)


WEIGHT_FREE = [n for n in videojury.list_metrics() if metric_class(n).extra is None]


def test_weight_free_list_is_what_we_think():
    assert {"brisque", "dynamic_degree", "flicker", "frozen", "motion_smoothness", "niqe",
            "piqe"} <= set(WEIGHT_FREE)


@pytest.mark.parametrize("name", WEIGHT_FREE)
def test_every_weight_free_metric_in_memory_equals_score_on_ffv1(clips, name):
    # per-frame image metrics on 3 of their frames keep the test fast
    opts = {"frames": 3} if "frames" in metric_class(name).default_options else {}
    m = videojury.load_metric(name, **opts)
    paths = [p for _, p in clips]
    df = videojury.score(paths, metrics=[m])
    assert df["error"].isna().all(), df["error"].tolist()
    got = m.batch([c for c, _ in clips], fps=FPS)
    assert m(clips[0][0], fps=FPS) == got[0]
    for row in range(len(clips)):
        for field in m.fields:
            assert got[row][field.name] == df[field.name][row], (name, field.name)  # bit for bit


def test_float_and_torch_inputs_follow_the_documented_rule(clips):
    clip = clips[0][0]
    as_float = clip.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    assert np.array_equal(as_video_array(as_float), clip)  # round(255 x) gives the bytes back
    m = videojury.load_metric("flicker")
    assert m(as_float, fps=FPS) == m(clip, fps=FPS)
    half = np.full((2, 3, 4, 4), 0.5 / 255.0 + 1e-9, np.float64)
    assert as_video_array(half).max() == 1  # rounds to the nearest grey level
    assert as_video_array(np.full((2, 3, 4, 4), 0.5 / 255.0))[0, 0, 0, 0] == 0  # half to even
    torch = pytest.importorskip("torch")
    t8 = torch.from_numpy(clip.copy())
    tf = torch.from_numpy(as_float).to(torch.bfloat16)
    assert m(t8, fps=FPS) == m(clip, fps=FPS)
    assert as_video_array(tf).shape == clip.shape  # bfloat16 accepted (via float32)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((8, 8, 3), np.uint8), "add a time axis"),
    (np.zeros((2, 3, 8, 8), np.uint8), r"\(T, H, W, 3\)"),
    (np.zeros((2, 8, 8, 3), np.float32), r"\(T, 3, H, W\)"),
    (np.full((2, 3, 8, 8), 1.2, np.float32), r"values must lie in \[0, 1\]"),
    (np.full((2, 3, 8, 8), np.nan, np.float32), r"values must lie in \[0, 1\]"),
    (np.zeros((2, 8, 8, 3), np.int32), "dtype must be uint8"),
    ([[1, 2]], "numpy array or torch tensor"),
])
def test_bad_arrays_are_refused_with_a_clear_message(bad, match):
    with pytest.raises(VideoError, match=match):
        as_video_array(bad)
    with pytest.raises(MetricError, match=match):
        videojury.load_metric("flicker")(bad, fps=8)


def test_call_errors_name_the_problem(clips):
    clip = clips[0][0]
    with pytest.raises(MetricError, match="needs at least 2"):
        videojury.load_metric("flicker")(clip[:1], fps=FPS)
    with pytest.raises(VideoError, match="fps must be a positive"):
        frames_from_array(clip, 0, FramePolicy.uniform(2))
    with pytest.raises(MetricError, match="one entry per video"):
        videojury.load_metric("flicker").batch([clip, clip], fps=FPS, prompts=["a"])
    with pytest.raises(MetricError, match="video 1: .*needs at least 2"):
        videojury.load_metric("flicker").batch([clip, clip[:1]], fps=FPS)


class _Counting(Metric):
    name = "_counting"
    fields = (ScoreField("n", None, None, True),)
    needs_prompt = True
    batch_size = 2
    loads: ClassVar[int] = 0
    calls: ClassVar[list[int]] = []

    def load(self):
        type(self).loads += 1

    def frame_policy(self):
        return FramePolicy.uniform(2)

    def score_batch(self, frames, items):
        type(self).calls.append(len(frames))
        return [{"n": float(len(f)) + len(it.prompt)} for f, it in zip(frames, items)]


def test_batch_loads_once_groups_by_batch_size_and_needs_its_prompt(clips):
    clip = clips[0][0]
    m = _Counting()
    got = m.batch([clip] * 5, fps=FPS, prompts=["a", "bb", "c", "dd", "e"])
    assert [g["n"] for g in got] == [3.0, 4.0, 3.0, 4.0, 3.0]
    assert _Counting.loads == 1 and _Counting.calls == [2, 2, 1]
    assert m(clip, fps=FPS, prompt="xyz") == {"n": 5.0}
    assert _Counting.loads == 1
    with pytest.raises(InputError, match="needs a prompt"):
        m(clip, fps=FPS)


def test_sample_many_and_frames_from_array_share_the_resize(tmp_path):
    clip = make_clip(3, ClipSpec(width=90, height=60, frames=6, fps=8))
    path = _lossless(tmp_path / "x.mkv", clip, fps=8)
    pols = [FramePolicy.uniform(3, resize=Resize(short_side=33)), FramePolicy.all()]
    dec = sample_many(path, pols)
    for pol in pols:
        assert np.array_equal(dec[pol].array, frames_from_array(clip, 8, pol).array)


@pytest.mark.models
@pytest.mark.parametrize("spec", ["clipscore:model={clip}", "vqascore:model={qwen2_5_vl}"])
def test_model_metrics_in_memory_equal_score_on_ffv1(spec, tiny_models, clips,  # noqa: F811
                                                     monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = spec.format(**{k: str(v) for k, v in tiny_models.items()})
    prompts = ["a red car on the road", "a blue dog", "a cat sitting on a chair"]
    df = videojury.score([p for _, p in clips], prompts=prompts, metrics=[spec])
    assert df["error"].isna().all(), df["error"].tolist()
    m = videojury.load_metric(spec)
    got = m.batch([c for c, _ in clips], fps=FPS, prompts=prompts)
    field = m.fields[0].name
    for row, (clip, _) in enumerate(clips):
        assert got[row][field] == df[field][row]  # same batches as the run: bit for bit
        # alone, the model runs a batch of one: float32 matmuls may round differently
        assert m(clip, fps=FPS, prompt=prompts[row])[field] == pytest.approx(df[field][row],
                                                                             rel=1e-5)
