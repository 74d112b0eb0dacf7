"""The shipped recipes (src/videojury/train/recipes/) load, and each runs ``--max-steps 2``
on a tiny random Qwen2.5-VL on CPU with its own stages, targets and temporal branch
(sizes overridden down to the tiny model), logging the per-dimension columns."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from videojury.train import load_config
from videojury.train.recipes import names, path

AIGV_TARGETS = ["static_quality", "temporal_smoothness", "dynamic_degree", "correspondence"]


def test_recipes_load_with_their_published_layout():
    assert names() == ["aigv_assessor", "love"]
    love = load_config(path("love"))
    assert [t.name for t in love.targets] == ["perception", "correspondence"]
    assert [s.kind for s in love.stages] == ["projector", "regression", "qa"]
    assert (love.lora.r, love.lora.alpha, love.lora.vision) == (16, 32, True)
    assert love.train.lr == 4e-5 and love.data.frames == 8 and love.data.size == [448, 448]
    assert (love.temporal.kind, love.temporal.tokens, love.temporal.trainable) == \
        ("dover_technical", 4, False)
    aigv = load_config(path("aigv_assessor"))
    assert [t.name for t in aigv.targets] == AIGV_TARGETS
    assert [s.kind for s in aigv.stages] == ["projector", "regression", "pairwise"]
    assert aigv.temporal.kind == "slowfast" and aigv.loss.l1 == 1.0
    with pytest.raises(Exception, match="no training recipe 'lovee'"):
        path("lovee")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    for mod in ("torch", "peft", "accelerate"):
        pytest.importorskip(mod)
    from videojury.data.synthetic import PROMPTS, ClipSpec, degrade, make_clip
    from videojury.models.tiny import build_tiny
    from videojury.video import write_video

    d = tmp_path_factory.mktemp("recipes")
    tiny = build_tiny("qwen2_5_vl", d / "tiny")
    spec = ClipSpec(width=56, height=56, frames=4, fps=8.0)
    rng = np.random.default_rng(0)
    rows = []
    for c in range(6):
        clip = make_clip(c, spec)
        for level in (0, 2):
            name = d / f"c{c}_l{level}.mkv"
            write_video(name, degrade(clip, "jitter", level, seed=c), fps=spec.fps,
                        codec="ffv1", crf=None)
            row = {"video": str(name), "prompt": PROMPTS[c % len(PROMPTS)],
                   "prompt_id": f"p{c}", "model": "m", "level": level,
                   "question": "Does this video shake?", "answer": "yes" if level else "no"}
            for t in AIGV_TARGETS + ["perception"]:
                row[t] = float(np.clip(90 - 30 * level + rng.normal(0, 5), 0, 100))
            rows.append(row)
    df = pd.DataFrame(rows)
    df.to_csv(d / "mos.csv", index=False)
    df.to_csv(d / "qa.csv", index=False)
    pairs = []
    for c in range(6):  # the clean clip wins; alternate sides
        a, b = (f"c{c}_l0.mkv", f"c{c}_l2.mkv")[::1 if c % 2 else -1]
        pairs += [{"video_a": str(d / a), "video_b": str(d / b),
                   "winner": "a" if c % 2 else "b", "dimension": t} for t in AIGV_TARGETS]
    pd.DataFrame(pairs).to_csv(d / "pairs.csv", index=False)
    sys.path.insert(0, str(Path(__file__).parent))
    from test_train_temporal import _swin_checkpoint

    return {"tiny": tiny, "dir": d, "swin": _swin_checkpoint(d / "temporal.pth")}


def _tiny_overrides(s, out: Path) -> list[str]:
    d = s["dir"]
    return [f"base={s['tiny']}", f"output_dir={out}", f"data.train={d / 'mos.csv'}",
            "data.frames=4", "data.size=[56, 56]", "data.val_fraction=0.34", "data.cache=true",
            "train.max_steps=2", "train.batch_size=2", "train.eval_batch_size=8",
            "train.threads=1", "train.tensorboard=false", "lora.r=4", "lora.alpha=8"]


@pytest.mark.models
@pytest.mark.parametrize("name", ["love", "aigv_assessor"])
def test_recipe_runs_two_steps_per_stage_on_a_tiny_model(setup, tmp_path, name):
    from videojury.train import train

    d = setup["dir"]
    extra = ([f"data.qa={d / 'qa.csv'}", f"temporal.checkpoint={setup['swin']}"]
             if name == "love" else [f"data.pairs={d / 'pairs.csv'}", "temporal.width=8"])
    cfg = load_config(path(name), _tiny_overrides(setup, tmp_path / name) + extra)
    res = train(cfg)
    log = pd.read_csv(tmp_path / name / "metrics.csv")
    kinds = [s.kind for s in cfg.stages]
    train_rows = log[log["split"] == "train"]
    assert train_rows.groupby("kind").size().to_dict() == {k: 2 for k in kinds}
    targets = [t.name for t in cfg.targets]
    val = log[(log["split"] == "val") & (log["kind"] == "regression")]
    reg = train_rows[train_rows["kind"] == "regression"]
    for t in targets:  # per-dimension columns: validation correlations, training L1
        assert f"l1_{t}" in log.columns and f"pair_acc_{t}" in log.columns
        assert len(val) and val[f"srcc_{t}"].notna().all()
    assert reg[[f"l1_{t}" for t in targets]].notna().any(axis=None)
    meta = json.loads((Path(res.evaluator_dir) / "evaluator.json").read_text())
    assert [t["name"] for t in meta["targets"]] == targets
    assert (Path(res.evaluator_dir) / "temporal.safetensors").is_file()
    if name == "love":
        assert meta["temporal"]["kind"] == "dover_technical" and meta["qa_trained"]
        assert meta["temporal"]["swin"]["embed_dim"] == 12
    else:
        assert meta["temporal"]["kind"] == "slowfast" and meta["judge"]
        pw = log[(log["split"] == "val") & (log["kind"] == "pairwise")]
        assert pw[[f"pair_acc_{t}" for t in targets]].notna().all().all()
        assert (Path(res.evaluator_dir) / "judge.safetensors").is_file()
