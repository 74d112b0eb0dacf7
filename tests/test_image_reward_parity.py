"""Per-frame image scorers against their references' own code (issue 15, item 2).

The reference numbers come from ``benchmarks/parity/<name>/reference.py``,
which runs the reference implementation (OpenAI's ``clip`` package and the
predictor's recipe for ``laion_aesthetic``) on the seeded inputs that
``benchmarks/parity/<name>/weights.py`` writes; this test rebuilds the same
inputs and checks videojury's metric against those numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

PARITY = Path(__file__).resolve().parents[1] / "benchmarks" / "parity"

# reference.py /tmp/openai_clip OUT (OpenAI CLIP at its GitHub HEAD), per clip
LAION_REFERENCE = [-0.17126058414578438, -0.21572856232523918, -0.32794076204299927]


@pytest.fixture(scope="module")
def laion(tmp_path_factory):
    sys.path.insert(0, str(PARITY / "laion_aesthetic"))
    try:
        import weights
        files = weights.make(tmp_path_factory.mktemp("laion"))
    finally:
        sys.path.pop(0)
        sys.modules.pop("weights", None)
    return files


def test_laion_aesthetic_matches_the_reference(laion):
    from videojury.metrics import load_metric

    m = load_metric("laion_aesthetic", model=str(laion["clip_hf"]), head=str(laion["head"]))
    clips = list(np.load(laion["frames"]))
    got = [r["laion_aesthetic"] for r in m.batch(clips, fps=8.0)]
    assert got == pytest.approx(LAION_REFERENCE, abs=1e-5)  # measured: 7e-8
    # one clip alone gives the same number as in a batch (per-frame, then mean)
    assert m(clips[1], fps=8.0)["laion_aesthetic"] == pytest.approx(got[1], abs=1e-6)


def test_laion_head_is_loaded_strictly(laion, tmp_path):
    import torch

    from videojury.errors import MetricError
    from videojury.metrics import load_metric
    from videojury.metrics.vlm.laion_aesthetic import build_head, read_head

    with pytest.raises(MetricError, match="needs head=PATH"):
        load_metric("laion_aesthetic", model=str(laion["clip_hf"]))
    sd = read_head(laion["head"])
    with pytest.raises(MetricError, match=r"head layer 0 has weight \(1024, 16\).*expected \(\{out\}, 768\)"):
        build_head(sd, 768)
    bad = dict(sd)
    bad["layers.1.weight"] = bad.pop("layers.0.weight")
    with pytest.raises(MetricError, match="missing: layers.0.weight; unexpected: layers.1.weight"):
        build_head(bad, 16)
    # a pickle that is not plain tensors is refused, never unpickled
    evil = tmp_path / "evil.pth"
    torch.save({"layers.0.weight": object()}, evil)
    with pytest.raises(MetricError, match="not a plain tensor state dict"):
        read_head(evil)
    with pytest.raises(MetricError, match="does not exist"):
        read_head(tmp_path / "absent.pth")


# reference.py OUT with the hpsv2 wheel's own img_score.score, per clip
HPS_REFERENCE = [-0.23679128661751747, -0.3706997260451317, -0.47676806151866913]


@pytest.fixture(scope="module")
def hps(tmp_path_factory):
    pytest.importorskip("open_clip")
    sys.path.insert(0, str(PARITY / "hpsv2"))
    try:
        import weights as hps_weights
        files = hps_weights.make(tmp_path_factory.mktemp("hps"))
        files["prompts"] = list(hps_weights.PROMPTS)
    finally:
        sys.path.pop(0)
        sys.modules.pop("weights", None)
    return files


def test_hpsv2_matches_the_reference(hps):
    from videojury.metrics import load_metric

    m = load_metric("hpsv2", weights=str(hps["weights"]), arch=str(hps["arch"]))
    clips = list(np.load(hps["frames"]))
    got = [r["hpsv2"] for r in m.batch(clips, fps=8.0, prompts=hps["prompts"])]
    assert got == pytest.approx(HPS_REFERENCE, abs=1e-5)  # measured: 4.5e-8


def test_hpsv2_checkpoint_errors(hps, tmp_path):
    import torch

    from videojury.errors import MetricError
    from videojury.metrics import load_metric
    from videojury.metrics.vlm.hpsv2 import read_state

    with pytest.raises(MetricError, match="neither v2.0 nor v2.1 nor a file"):
        load_metric("hpsv2", weights=str(tmp_path / "absent.pt"))
    sd = read_state(hps["weights"])
    sd.pop("visual.proj")
    sd["extra.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.pt"
    torch.save({"state_dict": sd}, bad)
    m = load_metric("hpsv2", weights=str(bad), arch=str(hps["arch"]))
    with pytest.raises(MetricError, match="missing: visual.proj; unexpected: extra.weight"):
        m.load()
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": {"a": object()}}, evil)
    with pytest.raises(MetricError, match="not a plain tensor checkpoint"):
        read_state(evil)


# reference.py /tmp/irpkg/ImageReward OUT (the image-reward wheel's ImageReward.score), per clip
IR_REFERENCE = [0.6961546391248703, 1.1482248902320862, 0.6084267646074295]


@pytest.fixture(scope="module")
def ir(tmp_path_factory):
    sys.path.insert(0, str(PARITY / "imagereward"))
    try:
        import weights as ir_weights
        files = ir_weights.make(tmp_path_factory.mktemp("ir"))
        files["prompts"] = list(ir_weights.PROMPTS)
    finally:
        sys.path.pop(0)
        sys.modules.pop("weights", None)
    return files


def test_imagereward_matches_the_reference(ir):
    from videojury.metrics import load_metric

    m = load_metric("imagereward", weights=str(ir["weights"]), med_config=str(ir["med_config"]),
                    tokenizer=str(ir["tokenizer"]))
    got = [r["imagereward"] for r in m.batch(list(np.load(ir["frames"])), fps=8.0, prompts=ir["prompts"])]
    assert got == pytest.approx(IR_REFERENCE, abs=1e-5)  # measured: 1.2e-7


def test_imagereward_checkpoint_is_converted_strictly(ir):
    import torch

    from videojury.errors import MetricError
    from videojury.metrics.vlm.imagereward import split_checkpoint

    sd = torch.load(ir["weights"], weights_only=True)
    split_checkpoint(sd)  # the official layout passes
    with pytest.raises(MetricError, match="tensors ImageReward does not: blip.itm_head.weight"):
        split_checkpoint({**sd, "blip.itm_head.weight": torch.zeros(2, 64)})
    with pytest.raises(MetricError, match="lacks the BLIP image encoder"):
        split_checkpoint({k: v for k, v in sd.items() if not k.startswith("mlp.")})
