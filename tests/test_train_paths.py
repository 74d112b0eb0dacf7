"""Paths in a training config start at the config's folder - the base model folder too."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytestmark = pytest.mark.models
pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("accelerate")


def test_relative_base_folder_starts_at_the_config_folder(tmp_path, monkeypatch):
    from videojury.models.tiny import build_tiny
    from videojury.train import load_config
    from videojury.train.loop import Trainer

    proj = tmp_path / "project"
    build_tiny("qwen2_5_vl", proj / "tiny")
    pd.DataFrame({"video": ["a.mp4", "b.mp4"], "prompt_id": ["p1", "p2"],
                  "mos": [10.0, 90.0]}).to_csv(proj / "train.csv", index=False)
    (proj / "cfg.json").write_text(json.dumps({
        "base": "tiny", "processor": "tiny", "output_dir": "out",
        "data": {"train": "train.csv", "split": "none", "frames": 2, "size": [28, 28]},
        "lora": {"r": 0}, "train": {"device": "cpu", "tensorboard": False}}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # run from another folder, as `videojury train project/cfg.json`
    cfg = load_config(proj / "cfg.json")
    trainer = Trainer(cfg)
    trainer.setup()
    assert trainer.checkpoint.source == str((proj / "tiny").resolve())
    meta = trainer.meta({})
    assert meta["base"]["processor"] == str(proj / "tiny")
