"""The registered video metrics niqe, brisque and piqe (per-frame scores, pooled)."""

from __future__ import annotations

import numpy as np
import pytest

import videojury
from videojury.errors import MetricError
from videojury.metrics import load_metric, metric_class
from videojury.metrics.classical.brisque import brisque
from videojury.metrics.classical.niqe import niqe
from videojury.metrics.classical.piqe import piqe
from videojury.video import FramePolicy, sample, write_video

from .test_classical_properties import natural_image

FUNCS = {"niqe": niqe, "brisque": brisque, "piqe": piqe}


@pytest.fixture(scope="module")
def textured_video(tmp_path_factory) -> str:
    base = natural_image(0, 192, 256)
    clip = np.stack([np.roll(base, 5 * i, axis=1) for i in range(12)])
    clip[6:] = np.clip(clip[6:].astype(int) + 20, 0, 255).astype(np.uint8)  # brighter half
    path = tmp_path_factory.mktemp("iqa") / "textured.mp4"
    write_video(path, clip, fps=8)
    return str(path)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_registered_with_fields_and_direction(name):
    cls = metric_class(name)
    assert name in videojury.list_metrics()
    (field,) = cls.fields
    assert field.name == name and field.higher_is_better is False
    m = load_metric(name)
    assert m.options == {"frames": 8, "pool": "mean", "short_side": 0}
    assert m.frame_policy() == FramePolicy.uniform(8)
    if name == "piqe":
        assert (field.low, field.high) == (0.0, 100.0)
    if name == "niqe":
        assert field.low == 0.0


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_pooled_score_is_pool_of_frame_scores(textured_video, name):
    metric = load_metric(name, frames=4)
    frames = sample(textured_video, metric.frame_policy())
    assert len(frames) == 4
    per_frame = np.array([FUNCS[name](f) for f in frames.array])
    assert len(set(per_frame.tolist())) > 1  # the frames differ, so pooling matters
    for how, fn in [("mean", np.mean), ("median", np.median), ("min", np.min), ("max", np.max)]:
        m = load_metric(name, frames=4, pool=how)
        got = m.check_scores(m.score(frames, None))[name]
        assert got == pytest.approx(float(fn(per_frame)), rel=1e-12)


def test_end_to_end_scores_and_per_item_errors(tmp_path, textured_video):
    # A 72x96 clip is smaller than one NIQE block: an error row for niqe,
    # while brisque and piqe score it.
    small = np.stack([natural_image(i, 72, 96) for i in range(4)])
    small_path = tmp_path / "small.mp4"
    write_video(small_path, small, fps=8)
    df = videojury.score([textured_video, str(small_path)],
                         metrics=["niqe:frames=3", "brisque:frames=3", "piqe:frames=3"])
    assert np.isfinite(df.loc[0, ["niqe", "brisque", "piqe"]].astype(float)).all()
    assert 0 <= df.loc[0, "piqe"] <= 100
    assert np.isnan(df.loc[1, "niqe"])
    assert np.isfinite(df.loc[1, "brisque"]) and np.isfinite(df.loc[1, "piqe"])
    assert "96x96" in str(df.loc[1, "error"]) and "frame" in str(df.loc[1, "error"])


def test_unscorable_frame_raises_metric_error(textured_video):
    metric = load_metric("niqe", frames=2)
    frames = sample(textured_video, metric.frame_policy())
    frames.array[1] = 0  # a black frame
    with pytest.raises(MetricError, match=r"frame \d+ cannot be scored: .*constant"):
        metric.score(frames, None)


def test_bad_options_are_refused():
    with pytest.raises(MetricError, match="pool"):
        load_metric("niqe:pool=average")
    with pytest.raises(MetricError, match="frames"):
        load_metric("brisque", frames=0)
    with pytest.raises(MetricError, match="must be a int"):
        load_metric("piqe:frames=many")
    assert load_metric("piqe:pool=median").label == "piqe:pool=median"
