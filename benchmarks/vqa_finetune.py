"""Fine-tuning a VQA network on MOS (``videojury train`` with ``vqa:``): held-out SRCC before/after.

Synthetic data with known MOS: each video is a random texture drifting
across the frame; its MOS falls with the Gaussian blur applied to it
(``MOS = 90 - 20 * sigma``), while a nuisance the MOS ignores (contrast and
brightness, drawn independently) changes the pixels more than the blur does.
The network is FasterVQA / FAST-VQA / DOVER in the official checkpoint
format with seeded random weights (the released files cannot be downloaded
here), at a small width so a CPU run takes a minute or two. The "before"
figure is the untrained network with its output map calibrated on the
training set (the best linear map of its raw score), the "after" figure the
fine-tuned one, both on held-out prompts.

    python benchmarks/vqa_finetune.py                       # faster_vqa, heads only, seeds 0-2
    python benchmarks/vqa_finetune.py --model dover --train all --seeds 0
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


def run(model: str, train: str, seed: int, n: int, epochs: int, work: Path) -> dict:
    import _vqa_ckpts as CK
    from _vqa_finetune_data import make_videos

    from videojury.train import config_from_dict, train as do_train

    man = make_videos(work, n, seed)
    state = CK.dover_state(seed) if model == "dover" else CK.fastvqa_state(seed)
    ck = CK.write(work / ("DOVER.pth" if model == "dover" else "FAST_VQA_3D_1_1.pth"), state)
    cfg = config_from_dict({
        "output_dir": str(work / "run"), "seed": seed,
        "vqa": {"model": model, "weights": ck, "train": train},
        "data": {"train": str(man), "split": "prompt", "val_fraction": 0.3},
        "targets": [{"name": "quality", "column": "mos", "scale": 100}],
        "stages": [{"kind": "regression", "epochs": epochs}],
        "loss": {"l1": 1.0, "plcc": 1.0},
        "train": {"lr": 3e-3 if train == "head" else 3e-4, "batch_size": 4,
                  "eval_batch_size": 4, "threads": 1, "tensorboard": False,
                  "warmup_ratio": 0.0},
    }, source=str(work / "config.json"))
    t0 = time.perf_counter()
    res = do_train(cfg)
    return {"model": model, "train": train, "seed": seed,
            "srcc_before": res.baseline["srcc"], "srcc_after": res.best["srcc"],
            "seconds": round(time.perf_counter() - t0, 1), "steps": res.global_step}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="faster_vqa", choices=["fast_vqa", "faster_vqa", "dover"])
    ap.add_argument("--train", default="head", choices=["head", "all"])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--videos", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args(argv)
    rows = []
    for s in [int(x) for x in args.seeds.split(",")]:
        with tempfile.TemporaryDirectory(prefix="vqa-ft-") as d:
            r = run(args.model, args.train, s, args.videos, args.epochs, Path(d))
        rows.append(r)
        print(json.dumps(r))
    b = np.mean([r["srcc_before"] for r in rows])
    a = np.mean([r["srcc_after"] for r in rows])
    print(f"{args.model} ({args.train}), {len(rows)} seed(s), {args.videos} videos: held-out "
          f"SRCC before {b:.3f}, after {a:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
