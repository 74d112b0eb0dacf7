"""CPU figures for training evaluators (the numbers in docs/training.md).

* LMM evaluator: a tiny random Qwen2.5-VL (``videojury.models.tiny``) trained
  with the test suite's recipe (LoRA r=16/alpha=32 on the language model and
  vision tower, projector trained, L1 + PLCC loss, 20 epochs) on synthetic
  flicker clips (24 clips x 4 levels, 4 frames at 56x56), once per CPU
  thread count asked; reports encoding time per example, time per optimizer
  step, total time, validation SRCC before and after, and the held-out
  SRCC on 6 unseen clips through ``trained:DIR``.
* Fusion: scoring a synthetic set with flicker/frozen/brisque, and
  ``fit_fusion`` (ridge + gradient boosting + single metrics, 5 folds).

Run: ``python benchmarks/train.py [--threads 1 2] [--epochs 20]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import videojury  # noqa: E402
from videojury.stats.correlation import srcc  # noqa: E402
from videojury.data.synthetic import ClipSpec, make_dataset  # noqa: E402


def _data(root: Path, clips: int, seed: int, kinds, spec: ClipSpec, step: float) -> Path:
    man = make_dataset(root, n_clips=clips, kinds=kinds, levels=(1, 2, 3), spec=spec, seed=seed)
    df = pd.read_csv(man)
    df["mos"] = 100.0 - step * df["level"]
    df.to_csv(man, index=False)
    return man


def _flicker(root: Path, clips: int, seed: int, spec: ClipSpec) -> Path:
    """Flicker levels 0-3, MOS = 100 - 30 x level, written losslessly (FFV1) so every
    run sees the same pixels (x264 output varies slightly from run to run)."""
    from videojury.data.synthetic import PROMPTS, degrade, make_clip
    from videojury.video import write_video

    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for c in range(clips):
        clip = make_clip(seed + c, spec)
        for level in range(4):
            name = f"c{seed + c:03d}_flicker{level}.mkv"
            write_video(root / name, degrade(clip, "flicker", level, seed=seed + c),
                        fps=spec.fps, codec="ffv1", crf=None)
            rows.append({"video": name, "prompt": PROMPTS[c % len(PROMPTS)],
                         "prompt_id": f"p{seed + c:03d}", "mos": 100.0 - 30.0 * level})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


def bench_lmm(root: Path, threads: int, epochs: float) -> dict:
    from videojury.models.tiny import build_tiny
    from videojury.train import config_from_dict, train

    spec = ClipSpec(width=56, height=56, frames=4, fps=8.0)
    tiny = build_tiny("qwen2_5_vl", root / "tiny")
    train_man = _flicker(root / "train", 24, 0, spec)
    test_man = _flicker(root / "test", 6, 100, spec)
    cfg = config_from_dict({
        "base": str(tiny), "output_dir": str(root / f"run{threads}"), "seed": 0,
        "data": {"train": str(train_man), "frames": 4, "size": [56, 56], "cache": True},
        "targets": [{"name": "quality", "column": "mos"}],
        "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "vision": True},
        "loss": {"plcc": 1.0},
        "stages": [{"kind": "regression", "epochs": epochs, "train_projector": True}],
        "train": {"lr": 2e-3, "head_lr": 5e-3, "batch_size": 8, "eval_batch_size": 16,
                  "threads": threads, "warmup_ratio": 0.0, "tensorboard": False}})
    t0 = time.perf_counter()
    res = train(cfg)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    scores = videojury.score(test_man, metrics=[f"trained:{res.output_dir}"])
    score_s = time.perf_counter() - t1
    return {"threads": threads, "steps": res.global_step,
            "s_per_step": round(res.seconds_per_step, 4), "train_s": round(total, 1),
            "val_srcc_before": round(res.baseline["srcc"], 3),
            "val_srcc_best": round(res.best["srcc"], 3),
            "heldout_srcc": round(srcc(scores["quality"], scores["mos"]), 3),
            "score_24_videos_s": round(score_s, 1)}


def bench_fusion(root: Path) -> dict:
    from videojury.train.fusion_fit import fit_fusion

    spec = ClipSpec(width=96, height=72, frames=12, fps=8.0)
    man = _data(root / "fusion", 6, 0, ("blur", "noise", "flicker", "freeze"), spec, 25.0)
    t0 = time.perf_counter()
    df = videojury.score(man, metrics=["flicker", "frozen", "brisque"])
    score_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    _, rep = fit_fusion(df)
    fit_s = time.perf_counter() - t1
    ch = rep.chosen_row()
    return {"videos": rep.n, "score_s": round(score_s, 1), "fit_s": round(fit_s, 2),
            "chosen": rep.chosen, "cv_srcc": round(ch["cv_srcc"], 3),
            "best_single": rep.best_single["model"],
            "best_single_cv_srcc": round(rep.best_single["cv_srcc"], 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--epochs", type=float, default=20)
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for th in args.threads:
            print("lmm", bench_lmm(root, th, args.epochs), flush=True)
        print("fusion", bench_fusion(root), flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB; load average after "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
