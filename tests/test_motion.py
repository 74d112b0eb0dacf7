"""dynamic_degree and motion_smoothness (DIS optical flow)."""

from __future__ import annotations

import numpy as np
import pytest

import videojury
from videojury.data.synthetic import ClipSpec, degrade, make_clip
from videojury.metrics.temporal.motion import interpolate_midpoint, top_motion
from videojury.video import write_video


@pytest.fixture(scope="module")
def pans(tmp_path_factory):
    """A textured scene panned at 0, 2 and 6 pixels per frame (short side 96)."""
    d = tmp_path_factory.mktemp("pans")
    scene = make_clip(5, ClipSpec(320, 240, 1, 8.0))[0]
    paths = {}
    for speed in (0, 2, 6):
        frames = np.stack([np.roll(scene, speed * i, axis=1)[60:156, 60:188] for i in range(16)])
        paths[speed] = str(write_video(d / f"pan{speed}.mp4", frames, fps=8))
    return paths


def test_dynamic_degree_measures_known_pans(pans):
    df = videojury.score([pans[s] for s in (0, 2, 6)], metrics=["dynamic_degree"])
    got = df["dynamic_degree"].to_numpy()
    want = np.array([0, 2, 6]) / 96.0  # pixels per frame / short side
    assert got[0] < 0.002  # static: no motion
    np.testing.assert_allclose(got[1:], want[1:], rtol=0.15)
    # VBench's rule: 6 px per 256 px of short side -> 2.25 px here
    assert df["is_dynamic"].tolist() == [0.0, 0.0, 1.0]


def test_top_motion_is_mean_of_largest_five_percent():
    flow = np.zeros((10, 20, 2), np.float32)
    flow[0, :10, 0] = 3.0  # exactly 5% of 200 pixels move by 3
    assert top_motion(flow) == pytest.approx(3.0)
    flow[0, :10, 1] = 4.0
    assert top_motion(flow) == pytest.approx(5.0)


def test_midpoint_interpolation_of_a_pan_is_accurate():
    scene = make_clip(2, ClipSpec(200, 150, 1, 8.0))[0]
    a, mid, b = (np.roll(scene, s, axis=1)[20:120, 20:170] for s in (0, 3, 6))
    pred = interpolate_midpoint(a, b)
    inner = (slice(10, -10), slice(10, -10))
    err = np.abs(pred[inner].astype(int) - mid[inner].astype(int)).mean()
    # predicting with the neighbour itself is much worse
    naive = np.abs(a[inner].astype(int) - mid[inner].astype(int)).mean()
    assert err < 2.5 and err < naive / 2, (err, naive)


def test_motion_smoothness_drops_with_jitter_and_flicker(tmp_path):
    clip = make_clip(1, ClipSpec(128, 96, 17, 8.0))
    paths = []
    for kind, level in [("none", 0), ("jitter", 1), ("jitter", 3), ("flicker", 3)]:
        p = tmp_path / f"{kind}{level}.mp4"
        write_video(p, degrade(clip, kind, level), fps=8)
        paths.append(str(p))
    s = videojury.score(paths, metrics=["motion_smoothness"])["motion_smoothness"].to_numpy()
    assert s[0] > s[1] > s[2] and s[0] > s[3]
    assert 0.9 < s[0] <= 1.0


def test_motion_scores_are_deterministic_and_order_free(pans):
    paths = [pans[s] for s in (0, 2, 6)]
    a = videojury.score(paths, metrics=["dynamic_degree", "motion_smoothness"])
    b = videojury.score(paths[::-1], metrics=["dynamic_degree", "motion_smoothness"])
    for col in ("dynamic_degree", "motion_smoothness"):
        assert a[col].to_numpy().tobytes() == b[col].to_numpy()[::-1].tobytes()
