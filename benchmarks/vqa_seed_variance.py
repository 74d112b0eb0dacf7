"""Spread of fast_vqa / faster_vqa / dover scores over their sampling seed, on real clips.

    python benchmarks/vqa_seed_variance.py [--seeds 0-9] [--ckpt-fast F] [--ckpt-dover D] VIDEO...

The official FAST-VQA / FasterVQA / DOVER inference scripts draw fragment
offsets (and DOVER's frame offsets) at random; videojury draws the same
numbers from a generator seeded with the metric's ``seed`` option. This
script scores each video with seeds 0..9 (decoding it once) and prints, per
metric and video, the mean, the standard deviation (population) and the
range of the score and raw output over the seeds. Without ``--ckpt-*``, the
seeded tiny random checkpoints of the parity tests (tests/_vqa_ckpts.py) are
used: the spread then measures how much the sampling alone moves a
random network's output, not the released models' spread, which needs their
weights (pass them with ``--ckpt-*``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {"fast_vqa": ("fast_vqa", "fast_vqa_raw"), "faster_vqa": ("faster_vqa", "faster_vqa_raw"),
          "dover": ("dover", "dover_technical", "dover_aesthetic")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-9")
    ap.add_argument("--ckpt-fast", help="FAST_VQA_B_1_4.pth (fast_vqa)")
    ap.add_argument("--ckpt-faster", help="FAST_VQA_3D_1_1.pth (faster_vqa)")
    ap.add_argument("--ckpt-dover", help="DOVER.pth")
    ap.add_argument("--metrics", default="faster_vqa,fast_vqa,dover")
    ap.add_argument("videos", nargs="+")
    a = ap.parse_args()
    lo, hi = (int(x) for x in a.seeds.split("-"))
    seeds = range(lo, hi + 1)
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "tests"))
    from videojury.metrics import load_metric
    from videojury.video import sample

    tmp = Path(tempfile.mkdtemp(prefix="vqa_seeds_"))
    ckpt = {"fast_vqa": a.ckpt_fast, "faster_vqa": a.ckpt_faster, "dover": a.ckpt_dover}
    if not all(ckpt.values()):
        import _vqa_ckpts as CK

        tiny_fast = CK.write(tmp / "fast.pth", CK.fastvqa_state(0))
        ckpt = {"fast_vqa": a.ckpt_fast or tiny_fast, "faster_vqa": a.ckpt_faster or tiny_fast,
                "dover": a.ckpt_dover or CK.write(tmp / "dover.pth", CK.dover_state(0))}
    print("| metric | video | field | mean | std | min | max |")
    print("|---|---|---|---|---|---|---|")
    for name in a.metrics.split(","):
        for v in a.videos:
            base = load_metric(name, model=ckpt[name], device="cpu", seed=0)
            frames = sample(v, base.frame_policy())
            vals = {f: [] for f in FIELDS[name]}
            for s in seeds:
                got = load_metric(name, model=ckpt[name], device="cpu", seed=s).score(frames, None)
                for f in vals:
                    vals[f].append(got[f])
            for f, xs in vals.items():
                x = np.array(xs)
                print(f"| {name} | {Path(v).name} | {f} | {x.mean():.6f} | {x.std():.2e} | "
                      f"{x.min():.6f} | {x.max():.6f} |", flush=True)


if __name__ == "__main__":
    main()
