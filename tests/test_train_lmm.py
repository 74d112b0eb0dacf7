"""Training an LMM evaluator on CPU: it learns, it reloads, it refuses bad files, it resumes.

A tiny random Qwen2.5-VL (built offline by ``videojury.models.tiny``) is
fine-tuned with LoRA and a regression head on synthetic clips whose MOS is
a known function of their degradation (MOS = 100 - 30 x flicker level).
Clips of other content, never seen in training or validation, measure the
held-out SRCC through the public ``trained:DIR`` metric.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.models
torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("accelerate")

from videojury.stats.correlation import srcc  # noqa: E402
from videojury.data.synthetic import PROMPTS, ClipSpec, degrade, make_clip  # noqa: E402
from videojury.errors import InputError, MetricError  # noqa: E402
from videojury.video import write_video  # noqa: E402

SPEC = ClipSpec(width=56, height=56, frames=4, fps=8.0)


def _dataset(root: Path, clips: int, seed: int) -> Path:
    """Clips at flicker levels 0-3 with MOS = 100 - 30 x level, one prompt per clip.

    Written losslessly (FFV1): x264 output is not byte-stable from run to run,
    and the test should see the same pixels every time.
    """
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for c in range(clips):
        clip = make_clip(seed + c, SPEC)
        for level in range(4):
            name = f"c{seed + c:03d}_flicker{level}.mkv"
            write_video(root / name, degrade(clip, "flicker", level, seed=seed + c),
                        fps=SPEC.fps, codec="ffv1", crf=None)
            rows.append({"video": name, "prompt": PROMPTS[c % len(PROMPTS)],
                         "prompt_id": f"p{seed + c:03d}", "level": level,
                         "mos": 100.0 - 30.0 * level})  # the known function of the degradation
    man = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(man, index=False)
    return man


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from videojury.models.tiny import build_tiny

    return build_tiny("qwen2_5_vl", tmp_path_factory.mktemp("tiny_qwen"))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("flicker")
    return {"train": _dataset(root / "train", 24, 0), "test": _dataset(root / "test", 6, 100)}


def _config(tiny: Path, train: Path, out: Path, **over) -> dict:
    cfg = {
        "base": str(tiny), "output_dir": str(out), "seed": 0,
        "data": {"train": str(train), "frames": 4, "size": [56, 56], "cache": True,
                 "val_fraction": 0.25},
        "targets": [{"name": "quality", "column": "mos", "dimension": "quality"}],
        # LOVE's LoRA (r=16, alpha=32, dropout 0.05), here also on the vision tower and
        # with the projector trained: a random tiny vision tower has to learn to see.
        "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "vision": True},
        "loss": {"l1": 1.0, "plcc": 1.0},
        "stages": [{"kind": "regression", "epochs": 20, "train_projector": True}],
        "train": {"lr": 2e-3, "head_lr": 5e-3, "batch_size": 8, "eval_batch_size": 16,
                  "threads": 1, "warmup_ratio": 0.0, "tensorboard": False},
    }
    for key, value in over.items():
        sec, _, name = key.partition(".")
        if name:
            cfg.setdefault(sec, {})[name] = value
        else:
            cfg[sec] = value
    return cfg


@pytest.fixture(scope="module")
def trained(tiny, data, tmp_path_factory):
    from videojury.train import config_from_dict, train

    out = tmp_path_factory.mktemp("run") / "evaluator"
    cfg = config_from_dict(_config(tiny, data["train"], out))
    return train(cfg)


def _untrained_srcc(tiny: Path, manifest: Path, seeds=range(16)) -> list[float]:
    """SRCC of freshly initialised evaluators (one per head seed) on ``manifest``."""
    from videojury.models.checkpoints import resolve_checkpoint
    from videojury.train.config import TargetConfig
    from videojury.train.data import FrameCache, frame_policy
    from videojury.train.model import (
        PromptEncoder,
        build_evaluator,
        collate,
        load_private_backbone,
        target_prompts,
    )

    bb = load_private_backbone(resolve_checkpoint(str(tiny)), "cpu", "float32", False)
    targets = target_prompts([TargetConfig(name="quality", dimension="quality")])
    enc = PromptEncoder(bb, targets)
    frames = FrameCache(frame_policy(4, (56, 56)))
    df = pd.read_csv(manifest)
    rows = []
    for v in df["video"]:
        before, _ = enc.mos_texts(0, None, None, False)
        rows.append(enc.encode(frames(str(manifest.parent / v)), before, before))
    batch = collate(rows, enc.tokenizer.pad_token_id, "left")
    out = []
    for s in seeds:
        torch.manual_seed(s)
        ev = build_evaluator(bb, targets, lora_names=[], r=0, alpha=1, dropout=0.0).eval()
        with torch.no_grad():
            pred = ev(batch["inputs"], batch["anchors"])["preds"][:, 0].numpy()
        out.append(srcc(pred, df["mos"].to_numpy()))
    return out


def test_training_learns_held_out_quality(trained, tiny, data):
    import videojury

    res = trained
    assert (res.output_dir / "evaluator.json").is_file()
    scores = videojury.score(data["test"], metrics=[f"trained:{res.output_dir}"])
    assert scores["error"].isna().all()
    after = srcc(scores["quality"].to_numpy(), scores["mos"].to_numpy())
    before = _untrained_srcc(tiny, data["test"], seeds=range(16))
    # The untrained base model asked as a zero-shot level judge (LOVE's starting point).
    judge = videojury.score(data["test"], metrics=[f"judge_quality:model={tiny},device=cpu"])
    zero_shot = srcc(judge["judge_quality"].to_numpy(), judge["mos"].to_numpy())
    print(f"held-out SRCC: untrained heads {np.mean(before):+.3f} (mean of 16 seeds, range "
          f"{min(before):+.2f}..{max(before):+.2f}), zero-shot level judge {zero_shot:+.3f}, "
          f"trained {after:.3f}; validation "
          f"SRCC before {res.baseline['srcc']:+.3f}, best {res.best['srcc']:.3f} at epoch "
          f"{res.best['epoch']}; {res.global_step} steps, {res.seconds_per_step:.3f}s/step, "
          f"{res.seconds:.1f}s")
    assert abs(float(np.mean(before))) < 0.3 and abs(zero_shot) < 0.3
    assert after >= 0.7
    # The validation log has one row per evaluation, with the agreement statistics.
    log = pd.read_csv(res.output_dir / "metrics.csv")
    val = log[log["split"] == "val"]
    assert len(val) == 21 and val["srcc"].notna().all() and val["krcc"].notna().all()


def test_reloaded_evaluator_gives_the_training_scores(trained):
    import videojury
    from videojury.metrics.base import load_metric

    out = trained.output_dir
    val = pd.read_csv(out / "val_predictions.csv")
    metric = load_metric(f"trained:{out}")
    assert [f.name for f in metric.fields] == ["quality"]
    scores = videojury.score(list(val["video"]), metrics=[metric])
    np.testing.assert_allclose(scores["quality"].to_numpy(), val["prediction"].to_numpy(),
                               atol=1e-3)
    # A second, independent load gives the same numbers again.
    again = videojury.score(list(val["video"]), metrics=[f"trained:{out}:batch_size=1"])
    np.testing.assert_allclose(again["quality"].to_numpy(), val["prediction"].to_numpy(),
                               atol=1e-3)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("checkpoints", "last", "best",
                                                            "*.csv"))
    return dst


def _rehash(folder: Path) -> None:
    from videojury.train.saving import sha256_of

    meta = json.loads((folder / "evaluator.json").read_text())
    meta["files"] = {n: sha256_of(folder / n) for n in meta["files"]}
    (folder / "evaluator.json").write_text(json.dumps(meta))


def test_corrupted_or_mismatched_evaluator_fails_loudly(trained, tmp_path, tiny):
    from safetensors.torch import load_file, save_file

    from videojury.models.tiny import build_tiny
    from videojury.train.evaluator import load_evaluator

    src = trained.output_dir
    # 1. One flipped byte: the checksum catches it.
    d = _copy(src, tmp_path / "flipped")
    raw = bytearray((d / "adapter.safetensors").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (d / "adapter.safetensors").write_bytes(bytes(raw))
    with pytest.raises(MetricError, match="checksum mismatch"):
        load_evaluator(d)
    # 2. Not safetensors at all (checksum updated to match): a parse error, named.
    d = _copy(src, tmp_path / "garbage")
    (d / "heads.safetensors").write_bytes(b"\x00" * 64)
    _rehash(d)
    with pytest.raises(MetricError, match="not a valid safetensors"):
        load_evaluator(d)
    # 3. A tensor missing: never a partial load.
    d = _copy(src, tmp_path / "missing")
    t = load_file(str(d / "adapter.safetensors"))
    t.pop(sorted(t)[0])
    save_file(t, str(d / "adapter.safetensors"))
    _rehash(d)
    with pytest.raises(MetricError, match="expected tensor.*missing.*nothing was loaded"):
        load_evaluator(d)
    # 4. A tensor of the wrong shape.
    d = _copy(src, tmp_path / "shape")
    t = load_file(str(d / "heads.safetensors"))
    k = sorted(t)[0]
    t[k] = torch.zeros(*[s + 1 for s in t[k].shape])
    save_file(t, str(d / "heads.safetensors"))
    _rehash(d)
    with pytest.raises(MetricError, match="has shape"):
        load_evaluator(d)
    # 5. Another base model: an InternVL checkpoint instead of the Qwen2.5-VL one.
    d = _copy(src, tmp_path / "otherbase")
    other = build_tiny("internvl", tmp_path / "tiny_internvl")
    meta = json.loads((d / "evaluator.json").read_text())
    meta["base"]["name"] = meta["base"]["source"] = str(other)
    (d / "evaluator.json").write_text(json.dumps(meta))
    with pytest.raises(MetricError, match="trained on a qwen2_5_vl model"):
        load_evaluator(d)
    meta["base"]["family"] = "internvl"  # even when the family is claimed to match
    (d / "evaluator.json").write_text(json.dumps(meta))
    with pytest.raises(MetricError, match="no module|nothing was loaded"):
        load_evaluator(d)
    # The intact folder still loads.
    assert load_evaluator(src).meta["base"]["family"] == "qwen2_5_vl"


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    out = {}
    for name in ("adapter.safetensors", "heads.safetensors"):
        out.update({f"{name}:{k}": v for k, v in load_file(str(folder / name)).items()})
    return out


def test_sigkill_and_resume_matches_an_uninterrupted_run(tiny, data, tmp_path):
    from videojury.train import config_from_dict, train

    over = {"data.split": "none", "data.limit": 16, "data.cache": False,
            "stages": [{"kind": "regression", "epochs": 2}],
            "train.batch_size": 4, "train.checkpoint_every": 3,
            "head": {"dropout": 0.1}}
    whole = config_from_dict(_config(tiny, data["train"], tmp_path / "whole", **over))
    train(whole)
    cfg = _config(tiny, data["train"], tmp_path / "killed", **over)
    path = tmp_path / "killed.json"
    path.write_text(json.dumps(cfg))
    # 4 steps per epoch; checkpoints after steps 3, 4 (epoch end) and 6; killed after
    # step 7, so the resumed run restarts in the middle of epoch 2 and replays step 7.
    # The kill comes from outside the library: the training process's on_step callback.
    killer = ("import json, os, signal, sys\n"
              "from videojury.train import config_from_dict, train\n"
              "def on_step(step):\n"
              "    if step == 7:\n"
              "        os.kill(os.getpid(), signal.SIGKILL)\n"
              "cfg = config_from_dict(json.load(open(sys.argv[1])), source=sys.argv[1])\n"
              "train(cfg, on_step=on_step)\n")
    proc = subprocess.run([sys.executable, "-c", killer, str(path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    ck = tmp_path / "killed" / "checkpoints"
    assert json.loads((ck / "latest.json").read_text())["checkpoint"] == "step-0000006"
    assert not (tmp_path / "killed" / "evaluator.json").exists()
    res = train(config_from_dict(cfg, source=str(path)), resume=True)
    assert res.global_step == 8
    a, b = _weights(tmp_path / "whole" / "last"), _weights(tmp_path / "killed" / "last")
    assert sorted(a) == sorted(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # Step 7 ran twice (before the kill and after the resume); the log keeps them once.
    log = pd.read_csv(tmp_path / "killed" / "metrics.csv")
    steps = log[log["split"] == "train"]["global_step"].tolist()
    assert steps == list(range(1, 9))
    # Resuming with a changed configuration is refused.
    changed = dict(cfg, seed=1)
    with pytest.raises(InputError, match="configuration changed"):
        train(config_from_dict(changed, source=str(path)), resume=True)


def test_projector_regression_and_qa_stages(tiny, data, tmp_path):
    """LOVE's three stages in one run, with gradient accumulation and checkpointing."""
    import videojury
    from videojury.metrics.base import load_metric
    from videojury.train import config_from_dict, train

    df = pd.read_csv(data["train"])
    df["video"] = [str(data["train"].parent / v) for v in df["video"]]
    df["question"] = "Does this video flicker?"
    df["answer"] = np.where(df["level"] >= 2, "Yes, it does.", "no")
    qa = tmp_path / "qa.csv"
    df.to_csv(qa, index=False)
    cfg = _config(tiny, data["train"], tmp_path / "staged", **{
        "data.qa": str(qa), "data.limit": 24, "loss": {"l1": 1.0, "lm": 0.5},
        "stages": [{"kind": "projector", "epochs": 1}, {"kind": "regression", "epochs": 1},
                   {"kind": "qa", "epochs": 2, "lr": 3e-3}],
        "train.grad_accum": 2, "train.gradient_checkpointing": True})
    res = train(config_from_dict(cfg))
    out = res.output_dir
    meta = json.loads((out / "evaluator.json").read_text())
    assert meta["projector_trained"] and meta["qa_trained"]
    from safetensors.torch import load_file

    keys = load_file(str(out / "adapter.safetensors"))
    assert any("merger" in k for k in keys) and any("lora_A" in k for k in keys)
    log = pd.read_csv(out / "metrics.csv")
    train_rows = log[log["split"] == "train"]
    assert set(train_rows["kind"]) == {"projector", "regression", "qa"}
    assert train_rows[train_rows["kind"] != "regression"]["ce"].notna().all()
    assert train_rows[train_rows["kind"] == "regression"]["lm_loss"].notna().all()
    assert log[(log["split"] == "val") & (log["kind"] == "qa")]["qa_acc"].between(0, 1).all()
    # 24 examples, batches of 8, 2 per optimizer step: 2 steps per epoch, 4 epochs in all.
    assert res.global_step == 8
    metric = load_metric(f"trained:{out}:qa=true")
    assert [f.name for f in metric.fields] == ["quality", "qa_yes"]
    got = videojury.score(qa, metrics=[metric], )
    assert got["error"].isna().all() and got["qa_yes"].between(0, 1).all()
