"""VSFA against its official test_demo.py, on seeded full-size checkpoints in the official formats.

The reference numbers come from lidq92/VSFA's test_demo.py (run unchanged by
benchmarks/parity/vsfa/reference.py, see its README) on the same files: a
random torchvision ResNet-50 and a random VSFA.pt, both regenerated here
from seed 0 (tests/_resnet_vqa_ckpts.py), on the synthetic clips below.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

sys.path.insert(0, str(Path(__file__).parent))
import _resnet_vqa_ckpts as CK  # noqa: E402
import _vqa_clips as CL  # noqa: E402

from videojury.errors import MetricError  # noqa: E402
from videojury.metrics import load_metric  # noqa: E402
from videojury.video import sample, write_video  # noqa: E402

CLIPS = {"synth_64x48_20.mp4": (64, 48, 20, 3), "synth_96x72_9.mp4": (96, 72, 9, 4)}
# test_demo.py's "Predicted quality", seed-0 weights (benchmarks/parity/vsfa/)
REF = {"synth_64x48_20.mp4": -0.7530906796455383, "synth_96x72_9.mp4": -0.7482156753540039}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("vsfa")
    clips = {}
    for name, (w, h, n, seed) in CLIPS.items():
        write_video(d / name, CL.clip(w, h, n, seed), fps=25)
        clips[name] = str(d / name)
    return {"clips": clips, "head": CK.write(d / "VSFA.pt", CK.vsfa_state(0)),
            "backbone": CK.write(d / "resnet50.pth", CK.resnet50_state(0)), "dir": d}


def _metric(files, **kw):
    return load_metric("vsfa", model=files["head"], backbone=files["backbone"], device="cpu", **kw)


@pytest.mark.slow
def test_matches_official_test_demo_batched_and_one_by_one(files):
    m = _metric(files, frame_batch=7)  # chunks of 7 frames: the demo uses 32
    frames = [sample(files["clips"][n], m.frame_policy()) for n in REF]
    batch = m.score_batch(frames, [None] * len(frames))
    for (name, ref), b in zip(REF.items(), batch):
        assert abs(b["vsfa"] - ref) < 1e-5, (name, b, ref)
    one = _metric(files).score(frames[1], None)["vsfa"]  # the 9-frame clip alone, chunks of 32
    assert abs(one - batch[1]["vsfa"]) < 1e-6 and abs(one - REF["synth_96x72_9.mp4"]) < 1e-5
    assert abs(batch[0]["vsfa"] - batch[1]["vsfa"]) > 1e-3  # the content matters


def test_temporal_pool_is_vsfa_formula():
    from videojury.models.vqa.vsfa import temporal_pool

    q = np.array([0.9, 0.8, 0.2, 0.7, 0.75, 0.8, 0.85, 0.9, 0.3, 0.9, 0.9, 0.95, 1.0, 0.6,
                  0.9], dtype=np.float64)
    want = []
    for t in range(len(q)):
        low = q[max(0, t - 11):t + 1].min()  # worst of the last 12 frames
        nxt = q[t:t + 12]
        w = np.exp(-nxt)
        want.append(0.5 * (nxt * w).sum() / w.sum() + 0.5 * low)
    got = temporal_pool(torch.tensor(q, dtype=torch.float64))
    assert np.allclose(got.numpy(), want, atol=1e-12)
    # one frame: the frame's own quality
    assert temporal_pool(torch.tensor([0.4])).item() == pytest.approx(0.4)


def test_strict_checkpoints(files, tmp_path):
    from videojury.models.vqa.vsfa import load_resnet50, load_vsfa_head

    sd = CK.vsfa_state(0)
    bad = dict(sd)
    bad.pop("rnn.bias_hh_l0")
    with pytest.raises(MetricError, match="missing 1 keys.*rnn.bias_hh_l0"):
        load_vsfa_head(CK.write(tmp_path / "a.pt", bad))
    with pytest.raises(MetricError, match="not a VSFA checkpoint.*'extra.w'"):
        load_vsfa_head(CK.write(tmp_path / "b.pt", dict(sd, **{"extra.w": torch.zeros(1)})))
    with pytest.raises(MetricError, match="not a torchvision ResNet-50"):
        load_resnet50(CK.write(tmp_path / "c.pt", sd))
    torch.save({"ann.fc0.weight": _Pickled()}, str(tmp_path / "d.pt"))
    with pytest.raises(MetricError, match="weights-only"):
        load_vsfa_head(tmp_path / "d.pt")
    # the released VSFA.pt's layout (ann.fc0/fc, GRU 128->32, q) loads as is
    net = load_vsfa_head(files["head"])
    assert net.rnn.hidden_size == 32 and net.ann.fc0.in_features == 4096


class _Pickled:
    pass


@pytest.mark.slow
def test_too_small_frames_and_table(files):
    p = files["dir"] / "tiny.mp4"
    write_video(p, CL.clip(32, 32, 4, 1), fps=25)
    m = _metric(files)
    with pytest.raises(MetricError, match="too small for VSFA"):
        m.score(sample(str(p), m.frame_policy()), None)
    from videojury.models.checkpoints import WEIGHT_FILES

    assert WEIGHT_FILES["vsfa"].file == "VSFA.pt" and WEIGHT_FILES["vsfa"].licence == "MIT"
    assert WEIGHT_FILES["resnet50-imagenet"].file == "resnet50-0676ba61.pth"
    with pytest.raises(MetricError, match="not on this machine"):
        load_metric("vsfa").weight_path()
