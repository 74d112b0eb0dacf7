"""Metrics that read the same frames share one decode of a video (run/batching.share_streams)."""

from __future__ import annotations

import numpy as np

from videojury.data.items import Item
from videojury.run import batching
from videojury.video import FramePolicy, Resize, sample, write_video
from videojury.video import decode as dec


class _M:
    def __init__(self, policy: FramePolicy) -> None:
        self.policy = policy

    def frame_policy(self) -> FramePolicy:
        return self.policy


def _clip(tmp_path, frames=6):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, size=(frames, 40, 56, 3), dtype=np.uint8)
    return write_video(tmp_path / "c.mp4", arr, fps=8.0)


def _count_decodes(monkeypatch):
    calls = []
    real = dec._decode

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(dec, "_decode", counted)
    return calls


def test_streamed_policies_share_one_decode(tmp_path, monkeypatch):
    path = _clip(tmp_path)
    want = sample(path, FramePolicy.all()).array
    calls = _count_decodes(monkeypatch)
    pols = [FramePolicy.all(min_frames=2, stream=True), FramePolicy.all(min_frames=1, stream=True),
            FramePolicy.all(min_frames=2, stream=True)]
    got = batching.decode_for(Item(video=str(path)), [_M(p) for p in pols])
    for fr in got.values():
        assert np.array_equal(np.stack(list(fr.iter())), want)  # bit for bit
    assert len(calls) == 1  # decoded once for the three metrics


def test_streamed_policy_reuses_held_frames(tmp_path, monkeypatch):
    path = _clip(tmp_path)
    calls = _count_decodes(monkeypatch)
    got = batching.decode_for(Item(video=str(path)), [_M(FramePolicy.all(min_frames=1)),
                                                      _M(FramePolicy.all(min_frames=2,
                                                                         stream=True))])
    assert got[1].array is got[0].array
    assert len(calls) == 1


def test_different_frames_are_not_shared(tmp_path, monkeypatch):
    path = _clip(tmp_path)
    small = FramePolicy.all(stream=True, resize=Resize(short_side=20))
    got = batching.decode_for(Item(video=str(path)), [_M(FramePolicy.all(stream=True)),
                                                      _M(small)])
    assert got[0].streamed and got[1].streamed  # one user each: still streamed
    assert next(got[1].iter()).shape[:2] == (20, 28)


def test_too_short_stays_an_error_for_its_metric(tmp_path):
    path = _clip(tmp_path, frames=3)
    got = batching.decode_for(Item(video=str(path)), [_M(FramePolicy.all(min_frames=5,
                                                                         stream=True)),
                                                      _M(FramePolicy.all(stream=True)),
                                                      _M(FramePolicy.all(stream=True))])
    assert isinstance(got[0], Exception) and "at least 5" in str(got[0])
    assert got[1].array is not None and len(got[1]) == 3 and got[2].array is got[1].array
