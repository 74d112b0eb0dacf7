"""--max-steps stops each stage early; a run that moved past such a stage cannot become the
full run on --resume (the cut stage is never revisited), so that resume is refused."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = pytest.mark.models
pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("accelerate")


def test_resume_past_a_stage_cut_short_by_max_steps_is_refused(tmp_path):
    from videojury.data.synthetic import ClipSpec, make_clip
    from videojury.errors import InputError
    from videojury.models.tiny import build_tiny
    from videojury.train import config_from_dict, train
    from videojury.video import write_video

    tiny = build_tiny("qwen2_5_vl", tmp_path / "tiny")
    rows = []
    for i in range(4):
        name = f"v{i}.mkv"
        write_video(tmp_path / name, make_clip(i, ClipSpec(width=28, height=28, frames=2,
                                                           fps=4.0)),
                    fps=4.0, codec="ffv1", crf=None)
        rows.append({"video": name, "prompt_id": f"p{i}", "mos": 20.0 * i})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    cfg = {"base": str(tiny), "output_dir": str(tmp_path / "out"), "seed": 0,
           "data": {"train": str(tmp_path / "m.csv"), "split": "none", "frames": 2,
                    "size": [28, 28], "cache": True},
           "lora": {"r": 2, "alpha": 4},
           "stages": [{"kind": "regression", "epochs": 1}, {"kind": "regression", "epochs": 1}],
           "train": {"batch_size": 1, "threads": 1, "tensorboard": False, "warmup_ratio": 0.0}}
    smoke = config_from_dict({**cfg, "train": {**cfg["train"], "max_steps": 1}})
    assert train(smoke).global_step == 2  # one step in each stage
    # The full run would take 4 steps in stage 0; the checkpoint is already in stage 1.
    with pytest.raises(InputError, match="stage 0 .* stopped after 1 optimizer steps"):
        train(config_from_dict(cfg), resume=True)
    # Resuming under the same max_steps (e.g. after a crash of the smoke run) is fine.
    assert train(smoke, resume=True).global_step == 2
