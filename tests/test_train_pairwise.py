"""AIGV-Assessor's pairwise stage: shared weights, an antisymmetric judge, cross-entropy on pairs.

A tiny random Qwen2.5-VL is trained on a few clips' noisy MOS (regression
only) and, from the same seed, on the same MOS followed by a pairwise stage
on preference pairs of other clips (tests/_train_pairs_data.py). On pairs of
unseen clips the pairwise model must order more pairs right; the saved
evaluator's judge must reload and give the same decisions.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.models
torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("accelerate")

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from videojury.errors import InputError  # noqa: E402
from videojury.train import config_from_dict  # noqa: E402


def test_judge_is_antisymmetric_and_starts_at_the_scores():
    from videojury.train.model import Judge

    torch.manual_seed(0)
    j = Judge(16, 8, score_weight=10.0)
    h_a, h_b = torch.randn(5, 16), torch.randn(5, 16)
    s_a, s_b = torch.rand(5), torch.rand(5)
    # untrained: the output layer is zero, so the judge is the score comparison
    assert torch.allclose(j(h_a, h_b, s_a, s_b), 10.0 * (s_a - s_b))
    with torch.no_grad():
        j.g[2].weight.normal_()
        j.g[2].bias.fill_(0.3)
    u = j(h_a, h_b, s_a, s_b)
    assert torch.allclose(u, -j(h_b, h_a, s_b, s_a), atol=1e-6)  # swapping flips the decision
    assert torch.allclose(j(h_a, h_a, s_a, s_a), torch.zeros(5), atol=1e-6)


def test_pair_loss_treats_ties_as_half():
    import torch.nn.functional as F

    u = torch.tensor([2.0, -1.0, 0.5])
    y = torch.tensor([1.0, 0.0, 0.5])
    ce = F.binary_cross_entropy_with_logits(u, y)
    # the two-class cross-entropy with soft targets (1, 0), (0, 1), (0.5, 0.5)
    logp = torch.stack([F.logsigmoid(u), F.logsigmoid(-u)], 1)
    soft = torch.stack([y, 1 - y], 1)
    assert torch.allclose(ce, -(soft * logp).sum(1).mean())


def test_config_checks(tmp_path):
    with pytest.raises(InputError, match="pairwise stage needs preference pairs"):
        config_from_dict({"base": "x", "output_dir": str(tmp_path),
                          "stages": [{"kind": "pairwise"}]})
    with pytest.raises(InputError, match="select_by must be"):
        config_from_dict({"base": "x", "output_dir": str(tmp_path),
                          "train": {"select_by": "pairs"}})


def test_pairs_name_their_target(tmp_path):
    from videojury.train.config import TargetConfig
    from videojury.train.data import load_pair_examples

    pd.DataFrame({"video_a": ["a.mp4", "c.mp4"], "video_b": ["b.mp4", "d.mp4"],
                  "winner": ["b", "tie"], "dimension": ["motion", "static"]}).to_csv(
        tmp_path / "p.csv", index=False)
    targets = [TargetConfig(name="static"), TargetConfig(name="motion")]
    got = load_pair_examples(str(tmp_path / "p.csv"), targets)
    assert [(g.target, g.label) for g in got] == [(1, 0.0), (0, 0.5)]
    assert got[0].video_a == str(tmp_path / "a.mp4")
    with pytest.raises(InputError, match="row 1: field 'dimension' is 'motion'"):
        load_pair_examples(str(tmp_path / "p.csv"), [TargetConfig(name="a"),
                                                     TargetConfig(name="b")])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import train_pairwise as B
    from _train_pairs_data import write_dataset

    from videojury.models.tiny import build_tiny
    from videojury.train import train

    d = tmp_path_factory.mktemp("pairwise")
    tiny = build_tiny("qwen2_5_vl", d / "tiny")
    data = write_dataset(d / "data", pair_clips=12, val_clips=6, seed=0)  # 66 + 36 pairs
    out = {}
    for name, pw in (("regression", False), ("pairwise", True)):
        out[name] = train(config_from_dict(B.config(tiny, data, d / name, 0, pw)))
    return data, out


@pytest.mark.slow
def test_pairwise_stage_raises_held_out_pair_accuracy(runs):
    _, res = runs
    reg = res["regression"].history[-1]
    pw = res["pairwise"].history[-1]
    assert "pair_acc" not in reg  # no judge without a pairwise stage
    assert pw["pair_acc"] >= reg["pair_acc_scores"] + 0.15
    assert pw["pair_acc"] >= 0.95
    log = pd.read_csv(Path(res["pairwise"].evaluator_dir) / "metrics.csv")
    assert log.loc[log["kind"] == "pairwise", "pair_ce"].notna().any()


@pytest.mark.slow
def test_saved_judge_reloads_with_the_same_decisions(runs):
    from videojury.train import load_evaluator
    from videojury.train.data import FrameCache, frame_policy

    data, res = runs
    folder = Path(res["pairwise"].evaluator_dir)
    assert (folder / "judge.safetensors").is_file()
    assert not (Path(res["regression"].evaluator_dir) / "judge.safetensors").exists()
    ev = load_evaluator(folder, device="cpu")
    pairs = pd.read_csv(data["val_pairs"])
    root = Path(data["val_pairs"]).parent
    frames = FrameCache(frame_policy(4, (56, 56)))
    fa = [frames(str(root / v)) for v in pairs["video_a"]]
    fb = [frames(str(root / v)) for v in pairs["video_b"]]
    p = np.array(ev.compare(fa, fb, [None] * len(pairs)))
    acc = np.mean((p > 0.5) == (pairs["winner"] == "a").to_numpy())
    assert acc == pytest.approx(res["pairwise"].history[-1]["pair_acc"])
    swapped = np.array(ev.compare(fb, fa, [None] * len(pairs)))
    assert np.allclose(p + swapped, 1.0, atol=1e-5)
    base = load_evaluator(res["regression"].evaluator_dir, device="cpu")
    with pytest.raises(Exception, match="no pair judge"):
        base.compare(fa[:1], fb[:1], [None])
