"""The temporal branch on synthetic data whose quality is only visible over time.

Clips of textured shapes (``videojury.data.synthetic``) with frame jitter
(every frame shifted by a random offset: each frame on its own is as sharp
as the clean clip) or flicker (brightness alternating up and down: the clip's
mean brightness is the clean one's) at levels 0-3; MOS = 100 - 30 x level +
N(0, 5). A tiny random Qwen2.5-VL (``videojury.models.tiny``) is trained from
the same seed with and without ``temporal: {kind: slowfast}`` on the same
rows; held-out SRCC is on clips of prompts seen in neither.

    python benchmarks/train_temporal.py --seeds 0,1,2 [--kind jitter] [--epochs 6]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def write_dataset(root: Path, clips: int = 16, kind: str = "jitter", seed: int = 0,
                  frames: int = 8, size: int = 56) -> Path:
    """``mos.csv`` under ``root`` (4 levels of ``kind`` per clip), written losslessly."""
    from videojury.data.synthetic import PROMPTS, ClipSpec, degrade, make_clip
    from videojury.video import write_video

    root.mkdir(parents=True, exist_ok=True)
    spec = ClipSpec(width=size, height=size, frames=frames, fps=8.0)
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(clips):
        cid = 1000 * seed + c
        clip = make_clip(cid, spec)
        for level in range(4):
            name = f"c{cid:05d}_{kind}{level}.mkv"
            if not (root / name).exists():
                write_video(root / name, degrade(clip, kind, level, seed=cid), fps=spec.fps,
                            codec="ffv1", crf=None)
            rows.append({"video": name, "prompt": PROMPTS[c % len(PROMPTS)],
                         "prompt_id": f"p{cid:05d}", "model": "synthetic",
                         "mos": float(np.clip(100 - 30 * level + rng.normal(0, 5), 0, 100))})
    path = root / "mos.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def config(tiny: Path, mos: Path, out: Path, seed: int, temporal: bool, epochs: float = 6,
           frames: int = 8, size: int = 56) -> dict:
    return {
        "base": str(tiny), "output_dir": str(out), "seed": seed,
        "data": {"train": str(mos), "split": "prompt", "val_fraction": 0.25, "frames": frames,
                 "size": [size, size], "cache": True},
        "targets": [{"name": "quality", "column": "mos", "dimension": "quality"}],
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "temporal": {"kind": "slowfast" if temporal else "none", "trainable": True,
                     "tokens": 4, "width": 16},
        "loss": {"l1": 1.0, "plcc": 1.0},
        "stages": [{"kind": "regression", "epochs": epochs, "train_projector": True}],
        "train": {"lr": 2e-3, "head_lr": 5e-3, "batch_size": 8, "eval_batch_size": 16,
                  "threads": 1, "warmup_ratio": 0.0, "tensorboard": False, "select_by": "loss"},
    }


def run_pair(tiny: Path, mos: Path, work: Path, seed: int, **kw) -> dict:
    from videojury.train import config_from_dict, train

    out = {}
    for name, on in (("without", False), ("with", True)):
        t0 = time.perf_counter()
        res = train(config_from_dict(config(tiny, mos, work / name, seed, on, **kw)))
        out[name] = {"srcc": float(res.history[-1]["srcc"]),
                     "seconds": round(time.perf_counter() - t0, 1)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--kind", default="jitter", choices=("jitter", "flicker"))
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--epochs", type=float, default=6)
    args = ap.parse_args(argv)
    from videojury.models.tiny import build_tiny

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tiny = build_tiny("qwen2_5_vl", tmp / "tiny")
        for seed in [int(s) for s in args.seeds.split(",")]:
            mos = write_dataset(tmp / f"data{seed}", args.clips, args.kind, seed)
            r = run_pair(tiny, mos, tmp / f"run{seed}", seed, epochs=args.epochs)
            rows.append({"seed": seed, **{f"{k}_{m}": v[m] for k, v in r.items() for m in v}})
            print(json.dumps(rows[-1]), flush=True)
    df = pd.DataFrame(rows)
    print(f"{args.kind}: held-out SRCC without temporal branch {df['without_srcc'].mean():.3f} "
          f"+- {df['without_srcc'].std(ddof=0):.3f}, with {df['with_srcc'].mean():.3f} +- "
          f"{df['with_srcc'].std(ddof=0):.3f} over {len(df)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
