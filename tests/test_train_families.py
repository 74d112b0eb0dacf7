"""Every chat family of the checkpoint table trains (projector + regression) and scores."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytestmark = pytest.mark.models
pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("accelerate")

from videojury.data.synthetic import ClipSpec, make_dataset  # noqa: E402

SIZES = {"internvl": 28, "llava_onevision": 28, "qwen3_vl": 64, "qwen2_5_vl": 56}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("fam")
    man = make_dataset(root, n_clips=3, kinds=("noise",), levels=(2,),
                       spec=ClipSpec(width=64, height=64, frames=4, fps=8.0), seed=0)
    df = pd.read_csv(man)
    df["mos"] = 90.0 - 40.0 * (df["level"] > 0)
    df.to_csv(man, index=False)
    return man


@pytest.mark.parametrize("family", ["internvl", "llava_onevision", "qwen3_vl"])
def test_family_trains_saves_and_scores(family, manifest, tmp_path):
    import videojury
    from videojury.models.tiny import build_tiny
    from videojury.train import config_from_dict, train

    tiny = build_tiny(family, tmp_path / "tiny")
    size = SIZES[family]
    cfg = config_from_dict({
        "base": str(tiny), "output_dir": str(tmp_path / "run"),
        "data": {"train": str(manifest), "frames": 4, "size": [size, size], "split": "none"},
        "targets": [{"name": "quality", "column": "mos"}],
        "lora": {"r": 4, "alpha": 8, "vision": True},
        "loss": {"lm": 0.5},
        "stages": [{"kind": "projector", "epochs": 1},
                   {"kind": "regression", "epochs": 1, "train_projector": True}],
        "train": {"batch_size": 3, "threads": 1, "tensorboard": False}})
    res = train(cfg)
    assert res.global_step == 4  # 6 examples in batches of 3, two stages
    meta = json.loads((res.output_dir / "evaluator.json").read_text())
    assert meta["base"]["family"] == family and meta["projector_trained"]
    assert any(".language_model." in m for m in meta["lora"]["modules"])
    assert any(".language_model." not in m for m in meta["lora"]["modules"])  # vision tower
    df = videojury.score(manifest, metrics=[f"trained:{res.output_dir}"])
    assert df["error"].isna().all() and df["quality"].notna().all()
