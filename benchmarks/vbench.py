"""Speed of VBench's protocol: VBench's own code against ``videojury bench --dimension``.

Same videos, same dimensions, same CPU, same weights (a RAFT-large checkpoint with seeded
random weights in the original format: the real model size). VBench's side calls its
``compute_<dimension>`` functions on a ``*_full_info.json`` as its ``evaluate`` builds it (one
decode per video per dimension, one frame pair at a time); videojury's side is
:func:`videojury.bench.vbench.run_vbench` (one decode per video for all its dimensions, no
store). Both use ``torch.set_num_threads(THREADS)``. Prints wall time per side, the ratio and
the largest per-video difference. Needs VBench's code importable, as for the parity scripts::

    PYTHONPATH=/tmp/vbref:/tmp/vbsrc .venv/bin/python benchmarks/vbench.py \
        [--videos 4] [--frames 9] [--size 128x160] [--dimension temporal_flickering ...]

(``/tmp/vbref``: easydict, decord, omegaconf installed with ``pip install --target``;
``/tmp/vbsrc``: a clone of github.com/Vchitect/VBench; see
``benchmarks/parity/vbench/dynamic_degree.py``.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# This file's folder comes first on sys.path and this file is called vbench.py: drop the
# folder so that ``import vbench`` finds VBench's package.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "src"))


def _clips(folder: Path, n: int, frames: int, h: int, w: int) -> list[str]:
    import cv2

    from videojury.video import write_video

    prompts = []
    for i in range(n):
        rng = np.random.default_rng(i)
        tex = rng.integers(0, 256, size=(h + 64, w + 64, 3)).astype(np.float32)
        tex = np.clip(cv2.GaussianBlur(tex, (0, 0), 3) * 2.5 - 190, 0, 255).astype(np.uint8)
        clip = np.stack([tex[(i + 2 * t) % 64:(i + 2 * t) % 64 + h,
                             (3 * t) % 64:(3 * t) % 64 + w] for t in range(frames)])
        prompt = f"prompt number {i}"
        write_video(folder / "model" / f"{prompt}-0.mp4", clip, fps=8.0)
        prompts.append(prompt)
    return prompts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--frames", type=int, default=9)
    ap.add_argument("--size", default="128x160", help="HxW")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dimension", action="append", default=None,
                    help="default: temporal_flickering and dynamic_degree")
    args = ap.parse_args()
    dims = args.dimension or ["temporal_flickering", "dynamic_degree"]
    h, w = (int(x) for x in args.size.split("x"))

    import torch

    torch.set_num_threads(args.threads)
    from videojury.bench import check_videos
    from videojury.bench.vbench import run_vbench
    from videojury.data.suites import load_suite
    from videojury.metrics.vbench.raft import random_raft_checkpoint

    tmp = Path(tempfile.mkdtemp(prefix="vb-speed-"))
    prompts = _clips(tmp / "videos", args.videos, args.frames, h, w)
    ckpt = random_raft_checkpoint(tmp / "raft-things.pth", 0)
    suite = tmp / "VBench_full_info.json"
    suite.write_text(json.dumps([{"prompt_en": p, "dimension": dims} for p in prompts]))
    # What VBench's evaluate() writes before calling the dimensions: the prompts with their
    # video lists.
    full = tmp / "model_full_info.json"
    full.write_text(json.dumps([{"prompt_en": p, "dimension": dims, "video_list": [
        os.path.join(str(tmp / "videos" / "model"), f"{p}-0.mp4")]} for p in prompts]))

    import importlib

    ref: dict[str, list] = {}
    t0 = time.perf_counter()
    per_dim = {}
    for d in dims:
        mod = importlib.import_module(f"vbench.{d}")
        sub = {"model": str(ckpt)} if d == "dynamic_degree" else {}
        t = time.perf_counter()
        ref[d] = getattr(mod, f"compute_{d}")(str(full), "cpu", sub)
        per_dim[d] = time.perf_counter() - t
    t_ref = time.perf_counter() - t0

    os.environ["VIDEOJURY_WEIGHTS"] = str(tmp)
    t0 = time.perf_counter()
    check = check_videos(load_suite(suite), tmp / "videos")
    res = run_vbench(check, dims)
    t_vj = time.perf_counter() - t0

    worst = 0.0
    for d in dims:
        mine = {Path(v["video_path"]).name: v["video_results"]
                for v in res.eval_results["model"][d][1]}
        for v in ref[d][1]:
            worst = max(worst, abs(float(mine[Path(v["video_path"]).name])
                                   - float(v["video_results"])))
    print(f"{args.videos} videos x {args.frames} frames at {w}x{h}, dimensions "
          f"{', '.join(dims)}, {args.threads} threads")
    for d in dims:
        print(f"  VBench {d}: {per_dim[d]:.2f} s")
    print(f"VBench's code: {t_ref:.2f} s; videojury: {t_vj:.2f} s; ratio {t_ref / t_vj:.2f}x; "
          f"max per-video difference {worst:.3g}")


if __name__ == "__main__":
    main()
