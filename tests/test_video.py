"""Decoding, probing and sampling."""

from __future__ import annotations

import numpy as np
import pytest

from videojury.errors import VideoError
from videojury.video import (
    FramePolicy,
    Resize,
    iter_frames,
    probe,
    read_frames,
    sample,
    sample_many,
    write_video,
)


def test_uniform_indices_are_segment_centres():
    # LOVE's 8 frames: floor((i + 0.5) * N / 8)
    idx = FramePolicy.uniform(8).indices(100, 25.0)
    assert idx.tolist() == [6, 18, 31, 43, 56, 68, 81, 93]
    # fewer frames than asked: each frame once, nothing repeated
    assert FramePolicy.uniform(8).indices(5, 25.0).tolist() == [0, 1, 2, 3, 4]


def test_fps_and_all_indices():
    assert FramePolicy.fps(2).indices(30, 10.0).tolist() == [0, 5, 10, 15, 20, 25]
    assert FramePolicy.fps(4).indices(10, 8.0).tolist() == [0, 2, 4, 6, 8]
    assert FramePolicy.all().indices(4, 10.0).tolist() == [0, 1, 2, 3]
    assert len(FramePolicy.all(max_frames=7).indices(100, 10.0)) == 7


def test_bad_policies_rejected():
    with pytest.raises(ValueError):
        FramePolicy(mode="random")
    with pytest.raises(ValueError):
        FramePolicy.uniform(0)
    with pytest.raises(ValueError):
        Resize(short_side=10, max_pixels=100)


def test_resize_modes():
    frames = np.zeros((2, 72, 96, 3), np.uint8)
    assert Resize(short_side=36).apply(frames).shape == (2, 36, 48, 3)
    assert Resize(size=(50, 40)).apply(frames).shape == (2, 40, 50, 3)
    assert Resize(max_pixels=96 * 72 // 4).apply(frames).shape == (2, 36, 48, 3)
    assert Resize(max_pixels=10**9).apply(frames) is frames  # never upscales


@pytest.mark.parametrize("ext,codec,pix", [
    ("mp4", "libx264", "yuv420p"), ("webm", "libvpx-vp9", "yuv420p"),
    ("mkv", "libx264", "yuv420p"), ("avi", "mpeg4", "yuv420p"), ("mov", "libx264", "yuv420p"),
    ("gif", "gif", "rgb8"),
])
def test_containers_probe_and_sample(tmp_path, clip, ext, codec, pix):
    path = write_video(tmp_path / f"v.{ext}", clip, fps=8, codec=codec, crf=None, pix_fmt=pix)
    info = probe(path, exact=True)
    assert (info.width, info.height) == (96, 72)
    assert info.frame_count == len(clip)
    fr = sample(path, FramePolicy.uniform(4))
    assert fr.array.shape == (4, 72, 96, 3) and fr.array.dtype == np.uint8
    assert fr.indices.tolist() == [2, 6, 10, 14]
    assert np.all(np.diff(fr.timestamps) > 0)
    # lossy codecs: still close to the source frames
    err = np.abs(fr.array.astype(int) - clip[fr.indices].astype(int)).mean()
    assert err < (25 if ext == "gif" else 12), err  # gif: 8-bit palette


def test_still_image_is_one_frame_video(tmp_path, clip):
    import cv2

    p = tmp_path / "img.png"
    cv2.imwrite(str(p), cv2.cvtColor(clip[0], cv2.COLOR_RGB2BGR))
    info = probe(p)
    assert info.is_image and info.frame_count == 1
    fr = sample(p, FramePolicy.uniform(8))
    assert fr.array.shape == (1, 72, 96, 3)
    assert np.array_equal(fr.array[0], clip[0])
    with pytest.raises(VideoError, match="needs at least 2"):
        sample(p, FramePolicy.all(min_frames=2))


def test_estimated_count_when_container_lacks_it(tmp_path, clip):
    path = write_video(tmp_path / "v.webm", clip, fps=8, codec="libvpx-vp9", crf=None)
    rough = probe(path)
    assert not rough.frame_count_exact and abs(rough.frame_count - len(clip)) <= 1
    assert probe(path, exact=True).frame_count == len(clip)


def test_seek_equals_sequential_decode(tmp_path):
    rng = np.random.default_rng(1)
    frames = [np.full((48, 64, 3), (i * 7) % 256, np.uint8) + rng.integers(0, 9, (48, 64, 3),
              dtype=np.uint8) for i in range(300)]
    path = write_video(tmp_path / "long.mp4", frames, fps=30, gop=30)
    want = FramePolicy.uniform(8).indices(300, 30.0)
    _, seek = read_frames(path, want, allow_seek=True)
    _, seq = read_frames(path, want, allow_seek=False)
    assert sorted(seek) == sorted(seq) == want.tolist()
    for i in want:
        assert np.array_equal(seek[i][0], seq[i][0])
        assert seek[i][1] == pytest.approx(i / 30.0)
    # every frame, decoded one by one, matches the sampled ones
    all_frames = {i: f for i, f, _ in iter_frames(path)}
    assert len(all_frames) == 300
    for i in want:
        assert np.array_equal(all_frames[i], seek[i][0])


def test_sample_many_shares_one_decode(video_dir):
    path = video_dir / "a.mp4"
    p1, p2 = FramePolicy.uniform(4), FramePolicy.all(resize=Resize(short_side=36))
    got = sample_many(path, [p1, p2])
    assert np.array_equal(got[p1].array, sample(path, p1).array)
    assert got[p2].array.shape == (16, 36, 48, 3)
    assert np.array_equal(got[p1].array, sample(path, FramePolicy.all()).array[got[p1].indices])


def test_grayscale_video_comes_out_rgb(tmp_path, clip):
    gray = clip.mean(axis=3).astype(np.uint8)
    frames = np.repeat(gray[..., None], 3, axis=3)
    path = write_video(tmp_path / "g.mp4", frames, fps=8, pix_fmt="gray", codec="libx264",
                       crf=0)
    fr = sample(path, FramePolicy.uniform(2))
    assert fr.array.shape[-1] == 3
    assert np.array_equal(fr.array[..., 0], fr.array[..., 1])


@pytest.mark.parametrize("name,match", [
    ("missing.mp4", "does not exist"),
    ("empty.mp4", "empty"),
    ("notes.mp4", "cannot be opened"),
    ("truncated.mp4", "cannot be opened|truncated"),
])
def test_bad_files_raise_clear_errors(bad_dir, name, match):
    with pytest.raises(VideoError, match=match) as info:
        sample(bad_dir / name, FramePolicy.uniform(4))
    assert name in str(info.value)


def test_truncated_faststart_mp4_reports_truncation(tmp_path, clip):
    # moov at the front, so the container opens but the frames run out.
    import av

    src = write_video(tmp_path / "src.mp4", np.concatenate([clip] * 4), fps=8)
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
    with pytest.raises(VideoError, match="truncated"):
        sample(cut, FramePolicy.all())


def test_too_short_for_policy(tmp_path, clip):
    path = write_video(tmp_path / "one.mp4", clip[:1], fps=8)
    with pytest.raises(VideoError, match="needs at least 2"):
        sample(path, FramePolicy.all(min_frames=2))


def test_sampling_is_deterministic(video_dir):
    a = sample(video_dir / "b.mp4", FramePolicy.uniform(5, resize=Resize(short_side=40)))
    b = sample(video_dir / "b.mp4", FramePolicy.uniform(5, resize=Resize(short_side=40)))
    assert np.array_equal(a.array, b.array) and np.array_equal(a.timestamps, b.timestamps)


@pytest.mark.parametrize("stream", [False, True])
def test_stream_that_changes_size_keeps_the_first_size(tmp_path, stream):
    # MPEG-TS files concatenate: 10 frames of 64x48, then 10 of 80x60
    a = write_video(tmp_path / "a.ts", [np.full((48, 64, 3), 100, np.uint8)] * 10, fps=10, gop=5)
    b = write_video(tmp_path / "b.ts", [np.full((60, 80, 3), 150, np.uint8)] * 10, fps=10, gop=5)
    cat = tmp_path / "cat.ts"
    cat.write_bytes(a.read_bytes() + b.read_bytes())
    assert {f.shape for _, f, _ in iter_frames(cat)} == {(48, 64, 3), (60, 80, 3)}
    fr = sample(cat, FramePolicy.all(stream=stream))
    arr = np.stack(list(fr.iter()))
    assert arr.shape == (20, 48, 64, 3)
    assert abs(int(arr[3, 5, 5, 0]) - 100) <= 2 and abs(int(arr[15, 5, 5, 0]) - 150) <= 2
