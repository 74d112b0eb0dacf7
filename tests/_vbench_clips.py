"""Fixed clips for the VBench flow/interpolation/IQA parity tests and scripts
(``tests/test_vbench_flow.py``, ``benchmarks/parity/vbench/``): written with
``videojury.video.write_video`` (single-threaded x264, byte-identical per run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random RGB texture (blurred noise), so flow has something to follow."""
    import cv2

    base = rng.integers(0, 256, size=(h, w, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(base, (0, 0), 3) * 2.5 - 190, 0, 255).astype(np.uint8)


def clip_specs() -> list[tuple[str, int, int, int, float, str]]:
    """(name, frames, height, width, fps, kind)."""
    return [
        ("pan16", 12, 128, 160, 16.0, "pan"),       # VBench keeps every 2nd frame
        ("still8", 6, 128, 144, 8.0, "still"),      # noise only
        ("odd24", 10, 130, 150, 24.0, "pan"),       # not a multiple of 8, every 3rd frame
    ]


def write_clips(folder: str | Path) -> dict[str, Path]:
    """Write the clips; returns name -> path."""
    from videojury.video import write_video

    out = {}
    folder = Path(folder)
    for i, (name, n, h, w, fps, kind) in enumerate(clip_specs()):
        rng = np.random.default_rng(100 + i)
        tex = _texture(rng, h + 64, w + 64)
        frames = []
        for t in range(n):
            if kind == "pan":
                dy, dx = (2 * t) % 64, (5 * t) % 64
                frames.append(tex[dy:dy + h, dx:dx + w])
            else:
                noise = rng.integers(-3, 4, size=(h, w, 3))
                frames.append(np.clip(tex[:h, :w].astype(int) + noise, 0, 255).astype(np.uint8))
        out[name] = write_video(folder / f"{name}.mp4", np.stack(frames), fps=fps)
    return out
