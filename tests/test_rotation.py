"""Display matrix: frames come out as a player shows them (rotation and flips), and
probe reports the displayed size."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import videojury
from videojury.video import (
    FramePolicy,
    display_orientation,
    frames_from_array,
    iter_frames,
    probe,
    read_frames,
    sample,
    write_video,
)


def _content(t: int = 3) -> np.ndarray:
    """An asymmetric picture: a red block top-left, a green block bottom-right, a ramp."""
    src = np.zeros((t, 48, 64, 3), np.uint8)
    src[:, :12, :20, 0] = 255
    src[:, 30:, 50:, 1] = 255
    src[..., 2] = (np.arange(64, dtype=np.uint8) * 3)[None, None, :]
    return src


def _pyav_rotation(path) -> float:
    import av

    with av.open(str(path)) as c:
        return next(c.decode(c.streams.video[0])).rotation


def _patch_tkhd_matrix(path, matrix: list[int]) -> None:
    """Write a 3x3 matrix into the video track's tkhd box, as a phone's camera does."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"tkhd")
    assert pos > 0
    version = data[pos + 4]
    offset = pos + (44 if version == 0 else 56)
    data[offset:offset + 36] = struct.pack(">9i", *matrix)
    path.write_bytes(bytes(data))


def test_phone_clip_with_a_patched_tkhd_comes_out_upright(tmp_path):
    """The -90 degree matrix phones write for portrait video (tkhd 0 1 / -1 0)."""
    src = _content()
    upright = write_video(tmp_path / "plain.mp4", src, fps=8, crf=0, pix_fmt="yuv444p")
    phone = tmp_path / "phone.mp4"
    phone.write_bytes(upright.read_bytes())
    _patch_tkhd_matrix(phone, [0, 0x10000, 0, -0x10000, 0, 0, 48 << 16, 0, 0x40000000])
    assert _pyav_rotation(phone) == -90
    info = probe(phone)
    assert (info.width, info.height) == (48, 64) and info.rotation == -90
    plain = sample(upright, FramePolicy.all()).array
    shown = sample(phone, FramePolicy.all()).array
    # a player turns it a quarter turn clockwise: np.rot90 with k=-1
    assert shown.shape == (3, 64, 48, 3)
    assert np.array_equal(shown, np.rot90(plain, k=-1, axes=(1, 2)))
    # the red block (top-left of the stored picture) is now top-right
    assert shown[0, :20, -12:, 0].min() > 200 and shown[0, :20, :12, 0].max() < 60


@pytest.mark.parametrize("rotation", [0, 90, -90, 180])
@pytest.mark.parametrize("hflip", [False, True])
def test_every_orientation_is_applied(tmp_path, rotation, hflip):
    src = _content()
    path = write_video(tmp_path / "r.mkv", src, fps=8, codec="ffv1", crf=None, pix_fmt="bgr0",
                       rotation=rotation, hflip=hflip)
    want = np.rot90(src, k=rotation // 90, axes=(1, 2))  # counter-clockwise, then the mirror
    if hflip:
        want = want[:, :, ::-1]
    info = probe(path)
    assert (info.height, info.width) == want.shape[1:3]
    assert np.array_equal(sample(path, FramePolicy.all()).array, want)
    _, got = read_frames(path, [1])
    assert np.array_equal(got[1][0], want[1])
    assert np.array_equal(np.stack([f for _, f, _ in iter_frames(path)]), want)


def test_rotated_clip_scores_like_the_upright_clip_in_memory(tmp_path):
    src = _content(6)
    path = write_video(tmp_path / "r.mkv", src, fps=8, codec="ffv1", crf=None, pix_fmt="bgr0",
                       rotation=-90)
    upright = np.rot90(src, k=-1, axes=(1, 2))
    df = videojury.score([str(path)], metrics=["flicker"])
    assert df["flicker"][0] == videojury.load_metric("flicker")(upright, fps=8)["flicker"]
    pol = FramePolicy.uniform(2)
    assert np.array_equal(sample(path, pol).array, frames_from_array(upright, 8, pol).array)


def test_display_orientation_of_known_matrices():
    one = 0x10000
    assert display_orientation([one, 0, 0, 0, one, 0, 0, 0, 1 << 30]) == (0.0, (False,) * 3)
    rot, turn = display_orientation([0, one, 0, -one, 0, 0, 0, 0, 1 << 30])
    assert rot == -90 and turn == (True, False, True)
    assert display_orientation([-one, 0, 0, 0, one, 0, 0, 0, 1 << 30])[1] == (False, False, True)
    assert display_orientation([0, 0, 0, 0, 0, 0, 0, 0, 0]) == (0.0, (False,) * 3)
