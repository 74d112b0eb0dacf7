"""Fine-tuning a deep VQA network on MOS: ``videojury train`` with a ``vqa:`` section.

A FasterVQA network in the official checkpoint format with seeded random
weights (tiny widths) is fine-tuned on synthetic videos whose MOS is set by
their blur; the held-out SRCC must rise well above the untrained network's,
the result folder must score through ``trained:DIR`` with exactly the
validation predictions the run saved, and an interrupted run must resume.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from videojury.errors import InputError
from videojury.train import config_from_dict

sys.path.insert(0, str(Path(__file__).parent))

MICRO_SWIN = dict(embed_dim=8, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1))


def _cfg(tmp_path, **over):
    base = {"output_dir": str(tmp_path / "run"),
            "vqa": {"model": "faster_vqa", "weights": str(tmp_path / "w.pth")},
            "data": {"train": str(tmp_path / "labelled.csv")},
            "targets": [{"name": "quality", "column": "mos"}]}
    base.update(over)
    return config_from_dict(base, source=str(tmp_path / "c.json"))


@pytest.mark.parametrize("over, message", [
    ({"vqa": {"model": "vsfa2"}}, "vqa.model must be one of fast_vqa, faster_vqa, dover"),
    ({"vqa": {"model": "dover", "train": "lora"}}, "vqa.train must be head or all"),
    ({"base": "qwen2.5-vl-7b"}, "either 'base'"),
    ({"targets": [{"name": "a"}, {"name": "b"}]}, "one target"),
    ({"stages": [{"kind": "qa"}]}, "regression stages only"),
    ({"loss": {"lm": 0.5}}, "loss.lm needs a language model"),
])
def test_config_errors_name_the_key(tmp_path, over, message):
    with pytest.raises(InputError, match=message):
        _cfg(tmp_path, **over)


def test_plain_config_still_needs_a_base(tmp_path):
    with pytest.raises(InputError, match="'base' is empty"):
        config_from_dict({"output_dir": str(tmp_path)})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch = pytest.importorskip("torch")
    pytest.importorskip("accelerate")
    import _vqa_ckpts as CK
    from _vqa_finetune_data import make_videos

    from videojury.models.vqa.nets import FastVQANet
    from videojury.train import train

    d = tmp_path_factory.mktemp("vqa-ft")
    man = make_videos(d, 32, seed=3, size=64)
    torch.manual_seed(0)
    net = FastVQANet(MICRO_SWIN)
    sd = CK._official_swin(net.backbone, "fragments_backbone.")
    sd.update({"vqa_head." + k: v for k, v in net.head.state_dict().items()})
    CK.write(d / "w.pth", {"state_dict": CK._randomize(sd, 0)})
    cfg = config_from_dict({
        "output_dir": str(d / "run"), "seed": 0,
        "vqa": {"model": "faster_vqa", "weights": str(d / "w.pth"), "train": "head"},
        "data": {"train": str(man), "split": "prompt", "val_fraction": 0.5},
        "targets": [{"name": "quality", "column": "mos", "scale": 100}],
        "stages": [{"kind": "regression", "epochs": 30}],
        "loss": {"l1": 1.0, "plcc": 1.0},
        "train": {"lr": 5e-3, "batch_size": 8, "threads": 1, "tensorboard": False,
                  "warmup_ratio": 0.0, "checkpoint_every": 10},
    }, source=str(d / "config.json"))
    res = train(cfg)
    return d, cfg, res


@pytest.mark.slow
def test_fine_tuning_raises_held_out_srcc(run_dir):
    _, _, res = run_dir
    assert res.baseline is not None and res.best is not None
    assert res.best["srcc"] > 0.8
    assert res.best["srcc"] > res.baseline["srcc"] + 0.3


@pytest.mark.slow
def test_trained_dir_scores_like_the_run_predicted(run_dir):
    from videojury.metrics.base import load_metric
    from videojury.video import sample

    import torch

    d, _, res = run_dir
    folder = res.evaluator_dir
    m = load_metric(f"trained:{folder}", device="cpu")
    assert m.fields[0].name == "quality"
    val = pd.read_csv(Path(folder) / "val_predictions.csv")
    frames = [sample(v, m.frame_policy()) for v in val["video"]]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the run (train.threads: 1): same reduction order, same bits
    try:
        got = m.score_batch(frames, [None] * len(frames))
        one = m.score(frames[0], None)
    finally:
        torch.set_num_threads(threads)
    assert np.allclose([g["quality"] for g in got], val["prediction"], rtol=0, atol=1e-9)
    assert abs(one["quality"] - got[0]["quality"]) < 1e-6  # batch = one by one


@pytest.mark.slow
def test_vqa_evaluator_files_are_checked(run_dir, tmp_path):
    import shutil

    from videojury.errors import MetricError
    from videojury.metrics.base import load_metric
    from videojury.video import sample

    d, _, res = run_dir
    bad = tmp_path / "bad"
    shutil.copytree(res.evaluator_dir, bad, ignore=shutil.ignore_patterns("checkpoints", "best",
                                                                          "last"))
    with open(bad / "vqa.safetensors", "r+b") as fh:
        fh.seek(200)
        fh.write(b"\x00\x01\x02")
    m = load_metric(f"trained:{bad}", device="cpu")
    with pytest.raises(MetricError, match="checksum mismatch"):
        m.score(sample(str(next(d.glob("v*.mp4"))), m.frame_policy()), None)


@pytest.mark.slow
def test_resume_continues_to_the_same_weights(run_dir, tmp_path):
    """Stopped after 4 of 6 steps, then resumed: the same weights as one uninterrupted run."""
    from safetensors.torch import load_file

    from videojury.train import train

    d, cfg, res = run_dir
    data = cfg.to_dict()
    data.pop("source")
    data["output_dir"] = str(tmp_path / "again")
    data["data"].update(split="none", limit=4)  # 4 videos, 2 steps an epoch
    data["stages"][0]["epochs"] = 3
    data["train"]["checkpoint_every"] = 0
    full = train(config_from_dict(dict(data), source=cfg.source))
    data["output_dir"] = str(tmp_path / "cut")
    data["train"]["max_steps"] = 4
    train(config_from_dict(dict(data), source=cfg.source))
    data["train"]["max_steps"] = 0
    resumed = train(config_from_dict(dict(data), source=cfg.source), resume=True)
    a = load_file(str(Path(full.evaluator_dir) / "vqa.safetensors"))
    b = load_file(str(Path(resumed.evaluator_dir) / "vqa.safetensors"))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


@pytest.mark.slow
def test_cli_trains_and_scores_a_vqa_network(run_dir, tmp_path, capsys):
    import json

    from videojury.cli import main

    d, cfg, _ = run_dir
    data = cfg.to_dict()
    data.pop("source")
    data["output_dir"] = str(tmp_path / "cli")
    data["data"].update(split="none", limit=4)
    (tmp_path / "cfg.json").write_text(json.dumps(data))
    assert main(["train", str(tmp_path / "cfg.json"), "--max-steps", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"trained:{tmp_path / 'cli'}" in out
    man = tmp_path / "two.csv"
    pd.DataFrame({"video": sorted(str(p) for p in d.glob("v00[01].mp4"))}).to_csv(man,
                                                                                  index=False)
    assert main(["score", str(man), "-m", f"trained:{tmp_path / 'cli'}",
                 "-o", str(tmp_path / "s.csv")]) == 0
    scores = pd.read_csv(tmp_path / "s.csv")
    assert scores["quality"].notna().all() and len(scores) == 2
