"""The synthetic clips of the FAST-VQA / DOVER parity runs (benchmarks/parity/fastvqa)."""

from __future__ import annotations

import numpy as np


def clip(w: int, h: int, n: int, seed: int) -> np.ndarray:
    """Noise drifting diagonally, with a moving ramp in the red channel."""
    r = np.random.default_rng(seed)
    base = r.integers(0, 255, (h + n, w + n, 3), dtype=np.uint8)
    _, xx = np.mgrid[0:h, 0:w]
    out = []
    for t in range(n):
        f = base[t:t + h, t:t + w].copy()
        f[..., 0] = ((xx + 3 * t) % 64 * 4).astype(np.uint8)
        out.append(f)
    return np.stack(out)


CLIPS = {"synth_320x240_150.mp4": (320, 240, 150, 1), "synth_200x150_40.mp4": (200, 150, 40, 2)}


def write_all(folder) -> dict[str, str]:
    from pathlib import Path

    from videojury.video import write_video

    out = {}
    for name, (w, h, n, seed) in CLIPS.items():
        p = Path(folder) / name
        write_video(p, clip(w, h, n, seed), fps=25)
        out[name] = str(p)
    return out
