"""Seeking from the keyframe index gives exactly the frames of sequential decoding,
ends on long GOPs (x264's default spacing), and is not used on variable frame rate."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import videojury
from videojury.video import FramePolicy, probe, read_frames, write_video


def _frames(n: int, h: int = 48, w: int = 64, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 200, (h, w, 3), dtype=np.uint8)
    # a moving texture so every frame differs and P/B frames carry real residuals
    return [np.roll(base, i, axis=1) + np.uint8(i % 50) for i in range(n)]


@pytest.fixture(scope="module")
def gop_clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("gops")
    return {gop: write_video(d / f"g{gop}.mp4", _frames(300), fps=30, gop=gop)
            for gop in (1, 7, 30, 100, None)}


def _wanted(kind: str, n: int) -> np.ndarray:
    if kind == "uniform8":
        return FramePolicy.uniform(8).indices(n, 30.0)
    if kind == "uniform2":
        return FramePolicy.uniform(2).indices(n, 30.0)
    if kind == "sparse":
        return np.array([0, 9, 10, 45, 46, 47, 199, 250, 299])
    if kind == "dense":
        return np.arange(3, n, 2)
    raise AssertionError(kind)


@pytest.mark.parametrize("gop", [1, 7, 30, 100, None])
@pytest.mark.parametrize("kind", ["uniform8", "uniform2", "sparse", "dense"])
def test_seek_equals_sequential(gop_clips, gop, kind):
    path = gop_clips[gop]
    want = _wanted(kind, 300)
    s1, s2 = {}, {}
    _, seek = read_frames(path, want, allow_seek=True, stats=s1)
    _, seq = read_frames(path, want, allow_seek=False, stats=s2)
    assert sorted(seek) == sorted(seq) == want.tolist()
    for i in want.tolist():
        assert np.array_equal(seek[i][0], seq[i][0]), i
        assert seek[i][1] == pytest.approx(seq[i][1]) == pytest.approx(i / 30.0)
    assert s2["seeks"] == 0
    # never more work than sequential decoding, and a bounded number of seeks
    assert s1["frames"] <= s2["frames"]
    assert s1["seeks"] <= len(want)
    if kind == "uniform8" and gop in (7, 30):
        assert s1["seeks"] > 0 and s1["frames"] < s2["frames"]


def test_default_keyint_long_clip_scores_with_classical_metrics(tmp_path):
    """The V24 hang: 600 frames, x264's default keyframe spacing (250)."""
    from videojury.data.synthetic import ClipSpec, make_clip

    base = make_clip(3, ClipSpec(320, 240, 1, 30.0))[0]
    frames = (np.roll(base, 2 * i, axis=1) for i in range(600))  # a pan: no scene cuts
    path = write_video(tmp_path / "long.mp4", frames, fps=30, gop=None)
    info = probe(path, exact=True)
    assert info.frame_count == 600
    df = videojury.score([str(path)], metrics=["niqe", "piqe", "brisque", "niqe:frames=2"])
    assert df["error"][0] is None
    for col in df.columns:
        if col not in ("video", "error"):
            assert np.isfinite(df[col][0]), col
    # the sampled frames are the right ones: compare with a sequential decode
    want = FramePolicy.uniform(8).indices(600, 30.0)
    stats = {}
    _, seek = read_frames(path, want, stats=stats)
    _, seq = read_frames(path, want, allow_seek=False)
    assert all(np.array_equal(seek[i][0], seq[i][0]) for i in want.tolist())
    assert 0 < stats["seeks"] <= 2  # keyframes at 0, 250 and 500: two forward seeks at most


def _write_vfr(path, n=200):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"threads": "1", "crf": "18"}
        s.codec_context.gop_size = 10
        s.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for i, arr in enumerate(_frames(n)):
            f = av.VideoFrame.from_ndarray(arr, format="rgb24")
            f.pts, f.time_base = t, Fraction(1, 1000)
            t += 33 if i % 3 else 50  # irregular spacing: variable frame rate
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def test_variable_frame_rate_decodes_sequentially(tmp_path):
    path = _write_vfr(tmp_path / "vfr.mp4")
    info = probe(path, exact=True)
    want = FramePolicy.uniform(8).indices(info.frame_count, info.fps)
    stats = {}
    _, got = read_frames(path, want, stats=stats)
    _, seq = read_frames(path, want, allow_seek=False)
    assert stats["seeks"] == 0 and stats.get("index_packets", 0) == info.frame_count
    assert sorted(got) == want.tolist()
    assert all(np.array_equal(got[i][0], seq[i][0]) for i in want.tolist())


@pytest.mark.parametrize("name,codec,opts", [
    ("open_gop.mp4", "libx264", {"x264-params": "open-gop=1:keyint=30:min-keyint=30:scenecut=0"}),
    ("hevc_open_gop.mp4", "libx265",
     {"x265-params": "keyint=30:min-keyint=30:open-gop=1:scenecut=0:log-level=error"}),
    ("mpeg4.avi", "mpeg4", {}),
    ("vp9.webm", "libvpx-vp9", {}),
])
def test_seek_equals_sequential_across_codecs_and_open_gops(tmp_path, name, codec, opts):
    """Open GOPs (leading B frames that reference the previous GOP), HEVC, AVI, WebM."""
    import av

    if codec not in av.codecs_available:
        pytest.skip(f"{codec} not in this FFmpeg build")
    path = tmp_path / name
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"threads": "1", **opts}
        s.thread_count = 1
        if not opts:
            s.codec_context.gop_size = 30
        for arr in _frames(300):
            for p in s.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    info = probe(path, exact=True)
    assert info.frame_count == 300
    for want in (FramePolicy.uniform(8).indices(300, 30.0),
                 np.array([0, 9, 31, 59, 60, 61, 89, 150, 299])):
        stats = {}
        _, seek = read_frames(path, want, info=info, stats=stats)
        _, seq = read_frames(path, want, info=info, allow_seek=False)
        assert sorted(seek) == sorted(seq) == want.tolist()
        assert all(np.array_equal(seek[i][0], seq[i][0]) for i in want.tolist())
        assert stats["seeks"] > 0
