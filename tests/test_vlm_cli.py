"""``videojury score --metric vqascore:model=PATH`` and a level judge from the command line,
on a tiny local checkpoint, with the network forbidden."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from ._vlm_models import PROMPTS, tiny_models, tiny_videos  # noqa: E402,F401

pytestmark = pytest.mark.models


@pytest.fixture()
def folder(tiny_videos, tmp_path) -> tuple[Path, Path]:
    d = tmp_path / "videos"
    d.mkdir()
    for p in tiny_videos:
        (d / Path(p).name).write_bytes(Path(p).read_bytes())
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({Path(p).name: t for p, t in zip(tiny_videos, PROMPTS)}))
    return d, prompts


def _args(folder, prompts, model, bs, out, flag=False):
    # bs in each metric's spec, or (flag) once for all through --batch-size
    opt = "" if flag else f",batch_size={bs}"
    return ["score", str(folder), "--prompts", str(prompts),
            "--metric", f"vqascore:model={model}{opt}",
            "--metric", f"judge_quality:model={model}{opt}",
            "--no-store", "--quiet", "-o", str(out)] + (["--batch-size", str(bs)] if flag else [])


def test_cli_vqascore_and_level_judge(folder, tiny_models, tmp_path, monkeypatch):
    d, prompts = folder
    model = tiny_models["qwen2_5_vl"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "empty_hf_home")}
    # A real process, as a user runs it.
    out1 = tmp_path / "run1.csv"
    proc = subprocess.run([sys.executable, "-m", "videojury", *_args(d, prompts, model, 4, out1)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # The same command twice more in this process: batch size 4 again, then 1
    # (given by --batch-size).
    from videojury.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out2, out3 = tmp_path / "run2.csv", tmp_path / "run3.csv"
    assert main(_args(d, prompts, model, 4, out2)) == 0
    from videojury.models.lmm import VideoLMM

    calls = []
    real = VideoLMM.encode
    monkeypatch.setattr(VideoLMM, "encode",
                        lambda self, frames, texts: calls.append(len(frames)) or real(
                            self, frames, texts))
    assert main(_args(d, prompts, model, 1, out3, flag=True)) == 0
    assert calls and set(calls) == {1}  # the flag reached both metrics
    r1, r2, r3 = (pd.read_csv(p) for p in (out1, out2, out3))
    assert len(r1) == 4 and r1["error"].isna().all()
    assert r1["vqascore"].between(0, 1).all()
    assert r1["judge_quality"].between(0, 100).all()
    for col in ("vqascore", "judge_quality", "judge_quality_level"):
        assert np.array_equal(r1[col].to_numpy(), r2[col].to_numpy()), col  # identical runs
        np.testing.assert_allclose(r1[col], r3[col], rtol=1e-5, atol=1e-7)  # batch 4 vs 1
    assert set(r1["prompt"]) == set(PROMPTS)


def test_cli_missing_checkpoint_offline(folder, tmp_path, monkeypatch):
    from videojury.cli import main

    d, prompts = folder
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_hf_home"))
    out = tmp_path / "out.csv"
    code = main(["score", str(d), "--prompts", str(prompts), "--metric",
                 "vqascore:model=internvl3-8b", "--no-store", "--quiet", "-o", str(out)])
    # A load failure is about the run, not the videos: exit 2, nothing stored, and every
    # row says why it was not computed (a rerun after the download computes them).
    assert code == 2
    err = pd.read_csv(out)["error"]
    assert err.str.contains("not computed").all()
    assert err.str.contains("hf download OpenGVLab/InternVL3-8B-hf").all()
