"""AIGV-Assessor's pairwise stage on synthetic preferences: held-out pair accuracy with and without.

A tiny random Qwen2.5-VL (``videojury.models.tiny``) is trained twice from the
same seed on the data of ``tests/_train_pairs_data.py``: a regression stage
on a few clips' noisy MOS only, and the same regression stage followed by a
pairwise stage on preference pairs of other clips. Both are scored on
held-out pairs of unseen clips: the regression-only model by comparing its
scores, the other by its judge (and by its scores, for reference).

    python benchmarks/train_pairwise.py --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def config(tiny: Path, data: dict, out: Path, seed: int, pairwise: bool, epochs: int = 10,
           pair_epochs: int = 5) -> dict:
    stages = [{"kind": "regression", "epochs": epochs, "train_projector": True}]
    if pairwise:
        stages.append({"kind": "pairwise", "epochs": pair_epochs, "train_projector": True})
    return {
        "base": str(tiny), "output_dir": str(out), "seed": seed,
        "data": {"train": str(data["mos"]), "split": "none", "pairs": str(data["pairs"]),
                 "val_pairs": str(data["val_pairs"]), "frames": 4, "size": [56, 56],
                 "cache": True},
        "targets": [{"name": "quality", "column": "mos", "dimension": "quality"}],
        "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "vision": True},
        "loss": {"l1": 1.0, "plcc": 1.0},
        "stages": stages,
        "train": {"lr": 2e-3, "head_lr": 5e-3, "batch_size": 8, "eval_batch_size": 16,
                  "threads": 1, "warmup_ratio": 0.0, "tensorboard": False,
                  "select_by": "pair_acc" if pairwise else "loss"},
    }


def run_pair(tiny: Path, data: dict, work: Path, seed: int, **kw) -> dict:
    from videojury.train import config_from_dict, train

    out = {}
    for name, pw in (("regression", False), ("pairwise", True)):
        t0 = time.perf_counter()
        res = train(config_from_dict(config(tiny, data, work / name, seed, pw, **kw)))
        last = res.history[-1]
        out[name] = {"pair_acc": last.get("pair_acc", last.get("pair_acc_scores")),
                     "pair_acc_scores": last.get("pair_acc_scores"),
                     "seconds": round(time.perf_counter() - t0, 1)}
    return out


def main(argv=None) -> int:
    from _train_pairs_data import write_dataset

    from videojury.models.tiny import build_tiny

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--pair-epochs", type=int, default=5)
    args = ap.parse_args(argv)
    accs = {"regression": [], "pairwise": []}
    with tempfile.TemporaryDirectory(prefix="pairwise-") as d:
        tiny = build_tiny("qwen2_5_vl", Path(d) / "tiny")
        for s in [int(x) for x in args.seeds.split(",")]:
            data = write_dataset(Path(d) / f"data{s}", seed=s)
            r = run_pair(tiny, data, Path(d) / f"run{s}", s, epochs=args.epochs,
                         pair_epochs=args.pair_epochs)
            print(json.dumps({"seed": s, **r}))
            for k in accs:
                accs[k].append(r[k]["pair_acc"])
    print(f"held-out pair accuracy over {len(accs['pairwise'])} seed(s): regression only "
          f"{np.mean(accs['regression']):.3f}, with the pairwise stage "
          f"{np.mean(accs['pairwise']):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
