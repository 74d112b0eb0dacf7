"""Synthetic videos with known MOS for the VQA fine-tuning test and benchmark.

Each video is a smooth random texture drifting across the frame; its MOS
falls with the strength of the fresh Gaussian noise added to every frame
(``MOS = 90 - 2 * std``, std in [0, 30] grey levels), while a nuisance the MOS
ignores (contrast and brightness, drawn independently) changes the pixels
as much as the noise does. Two videos per prompt id, so a split by prompt
keeps pairs together.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_videos(folder: Path, n: int, seed: int, size: int = 96, frames: int = 32) -> Path:
    """``n`` videos with MOS from their noise; returns the manifest path."""
    import cv2
    import pandas as pd

    from videojury.video import write_video

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        noise = float(rng.uniform(0.0, 30.0))
        contrast, bright = float(rng.uniform(0.8, 1.0)), float(rng.uniform(-20, 20))
        tex = rng.integers(0, 256, (size + frames, size + frames, 3)).astype(np.float32)
        tex = cv2.GaussianBlur(tex, (0, 0), 2.0)
        clip = []
        for t in range(frames):
            f = tex[t:t + size, t:t + size]
            f = (f - 128) * contrast + 128 + bright + rng.normal(0.0, noise, f.shape)
            clip.append(np.clip(f, 0, 255).astype(np.uint8))
        p = folder / f"v{i:03d}.mp4"
        write_video(p, np.stack(clip), fps=16)
        rows.append({"video": p.name, "prompt_id": f"p{i // 2}", "mos": 90 - 2 * noise})
    man = folder / "labelled.csv"
    pd.DataFrame(rows).to_csv(man, index=False)
    return man
