"""VBench's motion_smoothness with AMT-S (``motion_smoothness:method=amt``): the network's
size and keys, strict loading of ``amt-s.pth``'s layout, VBench's procedure (frame
selection, padding, truncation, formula) on a stand-in interpolator, the messages, and
parity with VBench's own ``vbench/motion_smoothness.py`` on seeded random weights.

The reference number below comes from ``benchmarks/parity/vbench/amt_reference.py``
(VBench commit 45e79ec, its ``third_party/amt``, torch 2.14.1, CPU float32), run on the
``tiny5`` clip of that script with ``random_amt_checkpoint(seed=0)`` (AMT-S at its real
size; the test rebuilds it from the seed).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from videojury.errors import MetricError  # noqa: E402
from videojury.metrics.base import load_metric  # noqa: E402
from videojury.metrics.vbench import amt as vamt  # noqa: E402
from videojury.video import sample, write_video  # noqa: E402

# VBench's MotionSmoothness.motion_score on tiny5 (measured |videojury - VBench| 4.0e-8).
REFERENCE_TINY5 = 0.8648899452359069


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return vamt.random_amt_checkpoint(tmp_path_factory.mktemp("amt") / "amt-s.pth", 0)


def test_network_is_amt_s_with_the_official_keys(ckpt):
    state = torch.load(str(ckpt), weights_only=True)
    assert set(state) == {"epoch", "state_dict"}
    sd = state["state_dict"]
    assert len(sd) == 213 and sum(v.numel() for v in sd.values()) == 2_990_543
    assert tuple(sd["feat_encoder.conv2.weight"].shape) == (84, 96, 1, 1)
    assert tuple(sd["decoder1.convblock.2.weight"].shape) == (60, 24, 4, 4)
    assert tuple(sd["update2.convc1.weight"].shape) == (64, 392, 1, 1)
    assert "feat_encoder.layer2.0.downsample.0.weight" in sd and "comb_block.1.weight" in sd
    # the same seed gives the same file contents
    again = vamt.random_amt_checkpoint(ckpt.parent / "again.pth", 0)
    sd2 = torch.load(str(again), weights_only=True)["state_dict"]
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)


def test_foreign_checkpoints_are_one_message(ckpt, tmp_path):
    sd = torch.load(str(ckpt), weights_only=True)["state_dict"]
    bare = tmp_path / "bare.pth"
    torch.save(sd, bare)
    with pytest.raises(MetricError, match="'state_dict', as amt-s.pth"):
        vamt.load_amt(bare)
    broken = dict(sd)
    broken.pop("comb_block.2.bias")
    broken["head.weight"] = torch.zeros(1)
    p = tmp_path / "broken.pth"
    torch.save({"state_dict": broken}, p)
    with pytest.raises(MetricError, match="missing: comb_block.2.bias; unexpected: head.weight"):
        vamt.load_amt(p)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(MetricError, match="cannot read as an AMT checkpoint"):
        vamt.load_amt(junk)


def test_missing_weights_message(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOJURY_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vb"))
    m = load_metric("motion_smoothness:method=amt")
    with pytest.raises(MetricError) as exc:
        m.identity(lambda p: "x")
    msg = str(exc.value)
    assert "amt-s.pth" in msg and "huggingface.co/lalala125/AMT" in msg and "curl" in msg
    assert "Nothing downloads by itself" in msg and str(tmp_path / "vb" / "amt_model") in msg


def test_dis_stays_the_default_and_options_are_checked():
    m = load_metric("motion_smoothness")
    assert m.options["method"] == "dis" and m.identity(lambda p: "x") == {}
    with pytest.raises(MetricError, match="short_side applies to method=dis only"):
        load_metric("motion_smoothness:method=amt,short_side=64")
    with pytest.raises(MetricError, match="'batch_size' of metric 'motion_smoothness' must be >= 1"):
        load_metric("motion_smoothness:method=amt,batch_size=0")
    assert vamt.vbench_scale(720, 1280, "cpu") == (1.0, 16)


class _Blend:
    """Stands in for AMT-S: the mean of the two padded frames."""

    def __init__(self):
        self.shapes = []

    def __call__(self, a, b, t, scale=1.0):
        self.shapes.append(tuple(a.shape))
        assert torch.all(t == 0.5) and scale == 1.0
        return (a + b) / 2


@pytest.mark.parametrize("n", [5, 6])
def test_procedure_is_vbench_s(n):
    # odd frames predicted from their even neighbours; with an even count the last odd
    # frame has no right neighbour and is not used; unpadded; truncated to uint8.
    rng = np.random.default_rng(n)
    frames = [rng.integers(0, 256, (130, 150, 3), dtype=np.uint8) for _ in range(n)]
    net = _Blend()
    got, used = vamt.amt_smoothness(net, iter(frames), "cpu", batch_size=1)
    assert used == 2 and net.shapes == [(1, 3, 144, 160)] * 2  # padded to multiples of 16
    diffs = []
    for j in (1, 3):
        a = frames[j - 1].astype(np.float32) / np.float32(255.0)
        b = frames[j + 1].astype(np.float32) / np.float32(255.0)
        pred = (((a + b) / np.float32(2)) * np.float32(255.0)).clip(0, 255).astype(np.uint8)
        diffs.append(np.abs(frames[j].astype(int) - pred.astype(int)).mean())
    assert got == pytest.approx((255.0 - np.mean(diffs)) / 255.0, abs=1e-12)
    # pairs batched: the same value
    net2 = _Blend()
    assert vamt.amt_smoothness(net2, iter(frames), "cpu", batch_size=8)[0] == got
    assert net2.shapes == [(2, 3, 144, 160)]


def test_small_and_short_videos_are_one_message(ckpt, tmp_path):
    small = write_video(tmp_path / "small.mp4", np.zeros((4, 64, 96, 3), np.uint8), fps=8)
    m = load_metric(f"motion_smoothness:method=amt,model={ckpt},device=cpu")
    with pytest.raises(MetricError, match="at least 128x128 pixels .* got 96x64; use method=dis"):
        m.score(sample(str(small), m.frame_policy()), None)
    with pytest.raises(MetricError, match="at least 3 frames"):
        vamt.amt_smoothness(_Blend(), iter([np.zeros((128, 128, 3), np.uint8)] * 2))


def _tiny5(folder):
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "benchmarks" / "parity" / "vbench"))
    try:
        from amt_reference import tiny_clip
    finally:
        sys.path.pop(0)
    return tiny_clip(folder)


def test_parity_with_vbench(ckpt, tmp_path):
    # both pairs in one batch (VBench runs them one at a time: same value to rounding)
    clip = _tiny5(tmp_path)
    m = load_metric(f"motion_smoothness:method=amt,model={ckpt},device=cpu,batch_size=8")
    assert m.label == f"motion_smoothness:method=amt,model={ckpt}"
    got = m.score(sample(str(clip), m.frame_policy()), None)["motion_smoothness"]
    assert got == pytest.approx(REFERENCE_TINY5, abs=1e-4)
    assert abs(got - REFERENCE_TINY5) < 1e-6  # measured 4e-8: float rounding only
