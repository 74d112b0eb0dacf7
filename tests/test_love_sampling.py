"""LOVE's 8-frame rule as the named policy ``love`` (issue 15, item 3)."""

from __future__ import annotations

import numpy as np
import pytest

from videojury.video import FramePolicy, frames_from_array, sample, write_video
from videojury.video.sampling import love_indices


def _love_formula(n_frames: int, num_segments: int = 8) -> list[int]:
    # LOVE's get_index with bound=None: start_idx = 0, end_idx = max_frame = N - 1,
    # written out element by element as in the reference (Python float + numpy round).
    start_idx, end_idx = 0, n_frames - 1
    seg_size = float(end_idx - start_idx) / num_segments
    return [int(start_idx + (seg_size / 2) + np.round(seg_size * idx))
            for idx in range(num_segments)]


def test_love_indices_equal_loves_formula_for_8_to_400_frames():
    pol = FramePolicy.love(8)
    differs_from_uniform = 0
    for n in range(8, 401):
        want = _love_formula(n)
        assert love_indices(n).tolist() == want, n
        assert pol.indices(n, 24.0).tolist() == want, n
        if n > 8:
            assert len(set(want)) == 8, n  # repeats only when N <= n
        if FramePolicy.uniform(8).indices(n, 24.0).tolist() != want:
            differs_from_uniform += 1
    # the old "as LOVE samples" segment centres differ for most frame counts
    assert differs_from_uniform == 369


def test_love_keeps_repeats_and_never_reads_the_last_frame():
    assert love_indices(8).tolist() == [0, 1, 2, 3, 4, 4, 5, 6]  # round(3.5) = 4 = round(4.375)
    assert love_indices(1).tolist() == [0] * 8
    assert love_indices(16).tolist() == _love_formula(16)
    assert FramePolicy.love(8).describe() == "love(8)"
    with pytest.raises(ValueError, match="love sampling needs n >= 1"):
        FramePolicy(mode="love", n=0)


def test_decoder_and_memory_path_serve_repeated_frames(tmp_path):
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 255, (8, 16, 24, 3)).astype(np.uint8)
    path = write_video(tmp_path / "c.mkv", clip, fps=8, codec="ffv1", crf=None, pix_fmt="bgr0")
    pol = FramePolicy.love(8)
    got = sample(path, pol)
    assert got.indices.tolist() == [0, 1, 2, 3, 4, 4, 5, 6]
    np.testing.assert_array_equal(got.array, clip[[0, 1, 2, 3, 4, 4, 5, 6]])
    mem = frames_from_array(clip, 8.0, pol)
    np.testing.assert_array_equal(mem.array, got.array)
    streamed = sample(path, FramePolicy.love(8, stream=True))
    np.testing.assert_array_equal(np.stack(list(streamed.iter())), got.array)


def test_love_checkpoints_and_the_sampling_option():
    from videojury.errors import MetricError
    from videojury.metrics import load_metric
    from videojury.models.checkpoints import CHECKPOINTS, LOVE_FRAMES

    assert LOVE_FRAMES.policy().mode == "love"
    assert CHECKPOINTS["internvl3-8b"].frames.policy().indices(8, 8.0).tolist() == \
        [0, 1, 2, 3, 4, 4, 5, 6]
    m = load_metric("vqascore", model="internvl3-8b")
    assert m.frame_policy().mode == "love"
    assert load_metric("vqascore", model="internvl3-8b", sampling="uniform").frame_policy().mode \
        == "uniform"
    q = load_metric("vqascore", model="qwen2.5-vl-7b", sampling="love", frames=6)
    assert q.frame_policy().indices(100, 24.0).tolist() == _love_formula(100, 6)
    # the default keys as before the option existed; an explicit choice keys apart
    assert "sampling" not in load_metric("vqascore", model="qwen2.5-vl-7b").options_key
    assert '"sampling":"love"' in q.options_key
    with pytest.raises(MetricError, match="sampling='every' is not known"):
        load_metric("vqascore", model="qwen2.5-vl-7b", sampling="every")
    with pytest.raises(MetricError, match="not fps="):
        load_metric("vqascore", model="qwen2.5-vl-7b", sampling="love", fps=2.0)
