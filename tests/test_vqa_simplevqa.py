"""SimpleVQA against its official test_demo.py, on seeded full-size checkpoints.

The reference numbers come from sunwei925/SimpleVQA's test_demo.py (run
unchanged by benchmarks/parity/simplevqa/reference.py, see its README, with
pytorchvideo's own slowfast_r50) on the same files: a random
UGC_BVQA_model.pth and a random SLOWFAST_8x8_R50.pyth in pytorchvideo's
layout, regenerated here from seed 0 (tests/_resnet_vqa_ckpts.py). Both
networks are full size (the regressor's input width is fixed by them), so
the scoring tests are marked slow; the clips are short and small.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

sys.path.insert(0, str(Path(__file__).parent))
import _resnet_vqa_ckpts as CK  # noqa: E402
import _vqa_clips as CL  # noqa: E402

from videojury.errors import MetricError  # noqa: E402
from videojury.metrics import load_metric  # noqa: E402
from videojury.video import sample, write_video  # noqa: E402

# name: (w, h, frames, seed, fps): 8 s at 1 fps (8 rows), 9.5 s at 2 fps (9 rows, portrait)
CLIPS = {"synth_80x60_8f_1fps.mp4": (80, 60, 8, 5, 1),
         "synth_60x90_19f_2fps.mp4": (60, 90, 19, 6, 2)}
# test_demo.py's quality score, seed-0 weights, its SlowFast in eval mode as the
# feature-extraction scripts run it (benchmarks/parity/simplevqa/, docs/vqa_models.md)
REF = {"synth_80x60_8f_1fps.mp4": -0.004617668222635984,
       "synth_60x90_19f_2fps.mp4": -0.005222603678703308}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("simplevqa")
    clips = {}
    for name, (w, h, n, seed, fps) in CLIPS.items():
        write_video(d / name, CL.clip(w, h, n, seed), fps=fps)
        clips[name] = str(d / name)
    return {"clips": clips, "dir": d,
            "ckpt": CK.write(d / "UGC_BVQA_model.pth", CK.simplevqa_state(0)),
            "slowfast": CK.write(d / "SLOWFAST_8x8_R50.pyth", CK.slowfast_state(0))}


def _metric(files, **kw):
    return load_metric("simplevqa", model=files["ckpt"], motion_model=files["slowfast"],
                       device="cpu", **kw)


@pytest.mark.slow
def test_matches_official_test_demo_and_batches(files):
    m = _metric(files, clip_batch=3)
    short = files["dir"] / "short_1s.mp4"  # 1 distinct row: cheap to score again alone
    write_video(short, CL.clip(72, 40, 2, 8), fps=2)
    names = list(CLIPS)
    paths = [files["clips"][n] for n in names] + [str(short)]
    frames = [sample(p, m.frame_policy()) for p in paths]
    got = m.score_batch(frames, [None] * len(frames))
    batch = dict(zip(names, got))
    for name, ref in REF.items():
        assert abs(batch[name]["simplevqa"] - ref) < 1e-4, (name, batch[name], ref)
    one = _metric(files).score(frames[-1], None)  # alone, clip_batch 4
    assert abs(one["simplevqa"] - got[-1]["simplevqa"]) < 1e-5
    assert abs(batch[names[0]]["simplevqa"] - batch[names[1]]["simplevqa"]) > 1e-4


@pytest.mark.slow
def test_short_video_is_padded_to_eight_rows(files):
    """Under 8 s the demo stops (8 motion rows, fewer key frames); the metric repeats the
    last key frame as the frame-extraction scripts do: a 1.5 s clip = its one second."""
    p = files["dir"] / "short.mp4"
    write_video(p, CL.clip(64, 48, 3, 7), fps=2)
    m = _metric(files)
    f = sample(str(p), m.frame_policy())
    s, mo = m.rows(f)
    assert s.shape == (8, 7168) and mo.shape == (8, 2304)
    assert torch.equal(s[0], s[7]) and torch.equal(mo[0], mo[7])
    net, _ = m.model()
    want = net.regress(s[:1], mo[:1]).item()
    assert m.score(f, None)["simplevqa"] == pytest.approx(want, abs=1e-6)


def test_plan_follows_test_demo():
    from videojury.metrics.vqa.simplevqa import plan

    assert plan(250, 25.0) == (25, 10, 10)  # bikes: 10 s, 10 key frames and clips
    assert plan(120, 29.97) == (30, 4, 8)  # 4 s: 4 distinct, padded to 8 rows
    assert plan(10, 30.0) == (30, 1, 8)  # under a second: frame 0
    with pytest.raises(MetricError, match="rounds to 0"):
        plan(10, 0.2)


def test_slowfast_keys_round_trip_and_strictness(tmp_path):
    from videojury.models.vqa.simplevqa import (SlowFastR50, load_simplevqa, load_slowfast,
                                                slowfast_from_official, slowfast_to_official)

    with torch.device("meta"):
        ours = SlowFastR50().state_dict()
    off = slowfast_to_official(ours)
    # pytorchvideo's names (slowfast_r50: 662 tensors with the classifier)
    assert "blocks.1.multipathway_blocks.0.res_blocks.0.branch1_conv.weight" in off
    assert "blocks.3.multipathway_fusion.conv_fast_to_slow.weight" in off
    assert tuple(off["blocks.4.multipathway_blocks.1.res_blocks.2.branch2.conv_c.weight"].shape) \
        == (256, 64, 1, 1, 1)
    assert len(off) == 660 and set(slowfast_from_official(off)) == set(ours)
    with pytest.raises(MetricError, match="no place in SlowFast"):
        slowfast_from_official({"blocks.5.pool.weight": torch.zeros(1)})
    torch.save({"state_dict": {"x": torch.zeros(1)}}, str(tmp_path / "a.pth"))
    with pytest.raises(MetricError, match="not a pytorchvideo SlowFast"):
        load_slowfast(tmp_path / "a.pth")
    with pytest.raises(MetricError, match="not a SimpleVQA checkpoint"):
        load_simplevqa(tmp_path / "a.pth")


def test_table_entries():
    from videojury.metrics.base import metric_class
    from videojury.models.checkpoints import WEIGHT_FILES

    assert WEIGHT_FILES["simplevqa"].file == "UGC_BVQA_model.pth"
    assert WEIGHT_FILES["slowfast-r50"].file == "SLOWFAST_8x8_R50.pyth"
    assert WEIGHT_FILES["simplevqa"].licence == "Apache-2.0"
    assert "Apache-2.0" in metric_class("simplevqa").description
    with pytest.raises(MetricError, match="not on this machine"):
        load_metric("simplevqa").weight_path()
