"""Training configuration and data: strict config reading, LOVE files, leak-free splits."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from videojury.errors import InputError
from videojury.train.config import apply_overrides, config_from_dict, load_config
from videojury.train.data import split_examples


def _minimal(**extra) -> dict:
    return {"base": "internvl3-8b", "output_dir": "out", **extra}


def test_yaml_config_defaults_follow_love(tmp_path):
    p = tmp_path / "cfg.yaml"
    p.write_text("base: internvl3-8b\noutput_dir: runs/x\ndata:\n  train: train.csv\n")
    cfg = load_config(p)
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout) == (16, 32, 0.05)
    assert cfg.lora.vision is False and "q_proj" in cfg.lora.targets
    assert cfg.stages[0].kind == "regression" and cfg.loss.l1 == 1.0
    assert (cfg.data.frames, cfg.data.size) == (8, [448, 448])
    # Relative paths start at the config's folder.
    assert cfg.resolve_path(cfg.data.train) == str(tmp_path / "train.csv")
    assert cfg.resolve_path("/abs/x.csv") == "/abs/x.csv"


def test_unknown_keys_and_bad_values_are_named(tmp_path):
    with pytest.raises(InputError, match=r"unknown key lora\.alhpa \(did you mean 'alpha'\?\)"):
        config_from_dict(_minimal(lora={"alhpa": 8}))
    with pytest.raises(InputError, match=r"train\.batch_size must be an integer"):
        config_from_dict(_minimal(train={"batch_size": "many"}))
    with pytest.raises(InputError, match="data.split must be prompt, model or none"):
        config_from_dict(_minimal(data={"split": "random"}))
    with pytest.raises(InputError, match="stages\\[0\\].kind"):
        config_from_dict(_minimal(stages=[{"kind": "dpo"}]))
    with pytest.raises(InputError, match="'base' is empty"):
        config_from_dict({"output_dir": "x"})
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_config(p)


def test_overrides():
    data = apply_overrides(_minimal(stages=[{"kind": "regression"}]),
                           ["train.lr=5e-5", "lora.targets=[q_proj, v_proj]", "stages.0.epochs=2",
                            "data.val_models=[m1]", "lora.vision=true"])
    cfg = config_from_dict(data)
    assert cfg.train.lr == 5e-5 and cfg.lora.targets == ["q_proj", "v_proj"]
    assert cfg.stages[0].epochs == 2 and cfg.data.val_models == ["m1"] and cfg.lora.vision
    with pytest.raises(InputError, match="not of the form"):
        apply_overrides({}, ["train.lr"])


def _love(tmp_path: Path) -> dict[str, Path]:
    """LOVE-format files: 3 generators x 4 prompts, perception + correspondence + QA."""
    models, prompts = ["m1", "m2", "m3"], [f"a cat number {i}" for i in range(4)]
    perc, corr, qa, table = [], [], [], []
    for mi, m in enumerate(models):
        for pi, prompt in enumerate(prompts):
            video = f"{m}/p{pi}.mp4"
            table.append({"video": video, "prompt": prompt})
            turn = [{"from": "human", "value": "<video>\nRate it."},
                    {"from": "gpt", "value": "The quality of the video is good."}]
            perc.append({"video": video, "mos": 10.0 * (mi + pi), "conversations": turn})
            corr.append({"video": video, "mos": 5.0 * pi + mi, "conversations": turn})
            qa.append({"video": video, "conversations": [
                {"from": "human", "value": "<video>\nIs there a cat?"},
                {"from": "gpt", "value": "Yes." if pi % 2 else "No, there is not."}]})
    out = {}
    for name, rows in (("perception.jsonl", perc), ("correspondence.jsonl", corr),
                       ("qa.jsonl", qa)):
        out[name] = tmp_path / name
        out[name].write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out["prompts"] = tmp_path / "prompts.csv"
    pd.DataFrame(table).to_csv(out["prompts"], index=False)
    return out


def _love_cfg(files, **data) -> dict:
    return _minimal(
        seed=3,
        data={"train": [str(files["perception.jsonl"]), str(files["correspondence.jsonl"])],
              "qa": str(files["qa.jsonl"]), "prompts": str(files["prompts"]), **data},
        targets=[{"name": "quality", "column": "perception"},
                 {"name": "correspondence", "column": "correspondence",
                  "dimension": "correspondence"}])


def test_love_files_split_by_prompt_never_share_a_prompt(tmp_path):
    files = _love(tmp_path)
    cfg = config_from_dict(_love_cfg(files, split="prompt", val_fraction=0.25))
    sp = split_examples(cfg)
    assert len(sp.train) + len(sp.val) == 24  # 12 videos x 2 targets
    assert len(sp.train_qa) + len(sp.val_qa) == 12
    train_prompts = {e.prompt for e in sp.train + sp.train_qa}
    val_prompts = {e.prompt for e in sp.val + sp.val_qa}
    assert val_prompts and not train_prompts & val_prompts
    # Perception rows go to the target whose column is "perception", with MOS/100 as value.
    q = next(e for e in sp.train if e.target == 0)
    assert q.value == pytest.approx(q.mos / 100.0)
    assert all(e.answer in (0, 1) for e in sp.train_qa + sp.val_qa)
    assert {e.model for e in sp.train} <= {"m1", "m2", "m3"}
    # Deterministic: the same seed gives the same split.
    again = split_examples(config_from_dict(_love_cfg(files, split="prompt",
                                                      val_fraction=0.25)))
    assert [e.video for e in again.val] == [e.video for e in sp.val]


def test_split_by_model_holds_out_unseen_generators(tmp_path):
    files = _love(tmp_path)
    sp = split_examples(config_from_dict(_love_cfg(files, split="model", val_models=["m2"])))
    assert {e.model for e in sp.val + sp.val_qa} == {"m2"}
    assert "m2" not in {e.model for e in sp.train + sp.train_qa}
    with pytest.raises(InputError, match="val_models names models not in the data"):
        split_examples(config_from_dict(_love_cfg(files, split="model", val_models=["m9"])))


def test_manifest_targets_and_missing_columns(tmp_path):
    man = tmp_path / "m.csv"
    pd.DataFrame({"video": ["a.mp4", "b.mp4", "c.mp4"], "prompt_id": ["p1", "p2", "p3"],
                  "mos": [10, "", 30]}).to_csv(man, index=False)
    sp = split_examples(config_from_dict(_minimal(data={"train": str(man), "split": "none"})))
    assert [e.mos for e in sp.train] == [10.0, 30.0]  # an empty MOS is no example
    with pytest.raises(InputError, match="no column 'vq' for target 'quality'"):
        split_examples(config_from_dict(_minimal(data={"train": str(man)},
                                                 targets=[{"name": "quality",
                                                           "column": "vq"}])))
    pd.DataFrame({"video": ["a.mp4"], "mos": ["lots"]}).to_csv(man, index=False)
    with pytest.raises(InputError, match="row 1, column 'mos': not a number"):
        split_examples(config_from_dict(_minimal(data={"train": str(man)})))


def test_given_validation_files_sharing_prompts_are_flagged(tmp_path):
    tr, va = tmp_path / "train.csv", tmp_path / "val.csv"
    pd.DataFrame({"video": ["a.mp4", "b.mp4"], "prompt_id": ["p1", "p2"],
                  "mos": [10, 20]}).to_csv(tr, index=False)
    pd.DataFrame({"video": ["c.mp4", "d.mp4"], "prompt_id": ["p2", "p3"],
                  "mos": [30, 40]}).to_csv(va, index=False)
    sp = split_examples(config_from_dict(_minimal(data={"train": str(tr), "val": str(va)})))
    assert "1 prompts are in both sets" in sp.how and "'p2'" in sp.how
    pd.DataFrame({"video": ["c.mp4"], "prompt_id": ["p3"], "mos": [30]}).to_csv(va, index=False)
    sp = split_examples(config_from_dict(_minimal(data={"train": str(tr), "val": str(va)})))
    assert sp.how == "validation files given"
