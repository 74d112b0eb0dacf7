"""VBench's dynamic_degree with RAFT (``dynamic_degree:method=raft``): the checkpoint's key
conversion into torchvision's RAFT-large, the missing-weights message, and parity with
VBench's own ``vbench/dynamic_degree.py`` on seeded random weights.

The reference numbers below come from ``benchmarks/parity/vbench/dynamic_degree.py``
(VBench commit 45e79ec, its ``third_party/RAFT``, torch 2.14.1 CPU float32), run on the
clips of ``tests/_vbench_clips.py`` with the checkpoint of ``random_raft_checkpoint(seed=0)``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from videojury.errors import MetricError  # noqa: E402
from videojury.metrics.base import load_metric  # noqa: E402
from videojury.metrics.vbench import raft as vraft  # noqa: E402
from videojury.video import sample  # noqa: E402

from ._vbench_clips import write_clips  # noqa: E402

# VBench's per-pair values (mean of the top 5% flow magnitudes) and is-dynamic flags.
REFERENCE = {
    "odd24": {"pairs": [23.15806007385254, 22.934852600097656, 22.82182502746582],
              "is_dynamic": True},
}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return vraft.random_raft_checkpoint(tmp_path_factory.mktemp("raft") / "raft-things.pth", 0)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return write_clips(tmp_path_factory.mktemp("clips"))


def test_key_conversion_round_trip_and_strict():
    from torchvision.models.optical_flow import raft_large

    torch.manual_seed(5)
    tv = raft_large(weights=None, progress=False).state_dict()
    orig = vraft.original_raft_keys(tv)
    assert all(k.startswith("module.") for k in orig)
    # The original stores each shortcut norm twice (norm3 and downsample.1).
    assert sum(".norm3." in k for k in orig) == sum(".downsample.1." in k for k in orig) > 0
    back = vraft.convert_raft_keys(orig)
    assert set(back) == set(tv)
    assert all(torch.equal(back[k], tv[k]) for k in tv)
    # Without the DataParallel prefix too.
    assert set(vraft.convert_raft_keys({k[7:]: v for k, v in orig.items()})) == set(tv)


def test_foreign_checkpoint_is_named(tmp_path):
    bad = {"module.fnet.conv1.weight": torch.zeros(1), "module.head.weight": torch.zeros(1)}
    with pytest.raises(MetricError, match="module.head.weight|head.weight"):
        vraft.convert_raft_keys(bad)
    p = tmp_path / "x.pth"
    torch.save({"fnet.layer1.0.norm3.weight": torch.ones(2)}, p)
    with pytest.raises(MetricError, match="no equal .*downsample.1"):
        vraft.load_raft(p)


def test_missing_weights_message(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOJURY_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vb"))
    m = load_metric("dynamic_degree:method=raft")
    with pytest.raises(MetricError) as exc:
        m.identity(lambda p: "x")
    msg = str(exc.value)
    assert "raft-things.pth" in msg and "models.zip" in msg and "unzip" in msg
    assert "Nothing downloads by itself" in msg


def test_dis_stays_the_default():
    m = load_metric("dynamic_degree")
    assert m.options["method"] == "dis" and m.identity(lambda p: "x") == {}


def test_small_frames_are_one_message(ckpt, tmp_path):
    from videojury.video import write_video

    path = write_video(tmp_path / "small.mp4", np.zeros((4, 64, 96, 3), np.uint8), fps=8)
    m = load_metric(f"dynamic_degree:method=raft,model={ckpt},device=cpu")
    with pytest.raises(MetricError, match="at least 128x128 pixels, got 96x64; use method=dis"):
        m.score(sample(str(path), m.frame_policy()), None)


@pytest.mark.slow  # RAFT-large at its real size, 3 frame pairs x 20 iterations on CPU
@pytest.mark.parametrize("name", ["odd24"])
def test_parity_with_vbench(ckpt, clips, name, monkeypatch):
    ref = REFERENCE[name]
    m = load_metric(f"dynamic_degree:method=raft,model={ckpt},device=cpu")
    seen = {}
    pairs = vraft.raft_pairs

    def recording(*a, **k):
        seen["out"] = pairs(*a, **k)
        return seen["out"]

    monkeypatch.setattr(vraft, "raft_pairs", recording)
    got = m.score(sample(str(clips[name]), m.frame_policy()), None)
    vals, kept, short = seen["out"]
    np.testing.assert_allclose(vals, ref["pairs"], rtol=0, atol=1e-4)
    assert bool(got["is_dynamic"]) is ref["is_dynamic"]
    assert got["dynamic_degree"] == pytest.approx(np.mean(ref["pairs"]) / short, abs=1e-6)
