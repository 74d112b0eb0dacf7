"""Figures for docs/reward.md: best-of-N pick rates, reward-vs-score agreement, reward speed.

    python benchmarks/reward_best_of_n.py [--prompts 24] [--skip-reward]

1. Best-of-N on synthetic footage (videojury.data.synthetic: textured moving
   shapes, x264): per prompt one pristine clip and three degraded ones (blur,
   noise, JPEG compression at one level); pick with ``niqe`` (and with
   ``piqe``); print how often the pristine clip is picked, per level, and the
   gain over a random pick.
2. On tiny random checkpoints (offline): |reward - score| on the same frames
   for each supported metric, and the time of one reward forward + backward
   for a batch of 4 clips of 8 frames at 64x48.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def best_of_n_figures(n_prompts: int) -> None:
    import videojury
    from videojury.data.synthetic import ClipSpec, make_dataset

    spec = ClipSpec(width=256, height=192, frames=16, fps=12.0)
    print(f"best-of-n: {n_prompts} prompts x (pristine + blur + noise + compression), "
          f"{spec.width}x{spec.height}, {spec.frames} frames")
    for level in (1, 2, 3):
        with tempfile.TemporaryDirectory() as d:
            man = make_dataset(d, n_clips=n_prompts, kinds=("blur", "noise", "compression"),
                               levels=(level,), spec=spec, seed=100)
            for metric in ("niqe", "piqe"):
                t0 = time.perf_counter()
                res = videojury.best_of_n(str(man), [metric], seed=0)
                dt = time.perf_counter() - t0
                rate = float((res.picks["degradation"] == "none").mean())
                g = res.gains.iloc[0]
                picked = res.picks["degradation"].value_counts().to_dict()
                print(f"  level {level} {metric:5s}: pristine picked {rate:6.1%} "
                      f"({int(round(rate * len(res.picks)))}/{len(res.picks)}), gain "
                      f"{g.gain:.3f} [{g.ci_low:.3f}, {g.ci_high:.3f}] "
                      f"(pick {g.pick_mean:.2f} vs random {g.random_mean:.2f}); "
                      f"picks {picked}; {dt:.1f} s")


def reward_figures() -> None:
    import torch

    from videojury.metrics import load_metric
    from videojury.models.tiny import build_tiny

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    clips = []
    for c in range(4):
        frames = []
        for i in range(8):
            base = 128 + 80 * np.sin((xx + 3 * i + 7 * c) / 6.0)[..., None] * \
                np.cos(yy / 9.0)[..., None]
            frames.append(np.clip(base * [1.0, 0.8, 0.6] + rng.normal(0, 6, (48, 64, 3)), 0,
                                  255).astype(np.uint8))
        clips.append(np.stack(frames))
    x = torch.stack([torch.from_numpy(c).permute(0, 3, 1, 2).float() / 255 for c in clips])
    prompts = ["a red car on the road", "a blue dog", "a cat on a chair", "a city at night"]
    cases = [("clipscore", "clip"), ("pickscore", "clip"), ("siglip_score", "siglip"),
             ("blip_itm", "blip_itm"), ("clip_temporal", "clip"), ("vqascore", "qwen2_5_vl"),
             ("vqascore", "qwen3_vl"), ("vqascore", "internvl"),
             ("vqascore", "llava_onevision"), ("judge_quality", "qwen2_5_vl"),
             ("judge_quality", "internvl"), ("judge_quality", "llava_onevision")]
    print("reward vs score on the same frames (tiny random checkpoints, 4 clips x 8 frames "
          "64x48; time: forward + backward of the batch, after one warm-up call)")
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name, fam in cases:
            if fam not in paths:
                paths[fam] = build_tiny(fam, Path(d) / fam)
            m = load_metric(f"{name}:model={paths[fam]}")
            field = m.fields[0].name
            want = np.array([m(c, fps=8.0, prompt=p if m.needs_prompt else None)[field]
                             for c, p in zip(clips, prompts)])
            xr = x.clone().requires_grad_(True)
            m.reward(xr, prompts, fps=8.0)  # warm-up
            t0 = time.perf_counter()
            r = m.reward(xr, prompts, fps=8.0)
            r.sum().backward()
            dt = time.perf_counter() - t0
            got = r.detach().numpy()
            err = np.abs(got - want)
            print(f"  {name:14s} {fam:16s} max|diff| {err.max():.2e}  (relative "
                  f"{(err / np.maximum(np.abs(want), 1e-12)).max():.1e}, range "
                  f"{want.min():.4g}-{want.max():.4g})  {dt * 1000:6.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=24)
    ap.add_argument("--skip-reward", action="store_true")
    args = ap.parse_args()
    best_of_n_figures(args.prompts)
    if not args.skip_reward:
        reward_figures()


if __name__ == "__main__":
    main()
