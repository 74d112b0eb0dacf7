"""The inputs of the ``vqascore:preset=t2v_metrics`` parity check, made from seeds.

Shared by ``reference.py`` (t2v_metrics' own scorer) and
``tests/test_vqascore_t2v_preset.py`` (videojury), so both sides read the same
files: tiny random Qwen2.5-VL and Qwen2-VL checkpoints (``videojury.models.tiny``, seed 0)
whose generation config carries the repetition penalty of the released
Qwen2.5-VL-Instruct checkpoints (1.05, so the processed-score choice is
exercised), and short clips of seeded noise on a gradient, written losslessly
(FFV1, ``bgr0``) so every decoder returns the same RGB pixels.

Plain numpy and videojury only (no t2v_metrics import).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PROMPTS = ("a red car on the road", "a cat sitting on a chair")
# (frames, height, width, fps): an 8 fps clip of an even frame count (the in-memory case
# reads every frame either way), a longer 24 fps clip (8 fps sampling picks a subset)
# and an odd-sized one.
CLIPS = ((8, 48, 64, 8.0), (30, 40, 56, 24.0), (11, 50, 38, 12.0))
REPETITION_PENALTY = 1.05


def clip_frames(i: int) -> np.ndarray:
    """Clip ``i`` as uint8 RGB (T, H, W, 3), from seed 100 + i."""
    t, h, w, _ = CLIPS[i]
    rng = np.random.default_rng(100 + i)
    base = rng.integers(0, 255, (1, h, w, 3)).astype(np.float32)
    ramp = np.linspace(0, 60, w, dtype=np.float32)[None, None, :, None]
    drift = np.linspace(0, 40, t, dtype=np.float32)[:, None, None, None]
    noise = rng.normal(0, 10, (t, h, w, 3)).astype(np.float32)
    return np.clip(base * 0.6 + ramp + drift + noise, 0, 255).astype(np.uint8)


def write_clips(root: Path) -> list[Path]:
    """The clips as lossless .avi files under ``root`` (and .npy arrays beside them)."""
    from videojury.video import write_video

    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (_, _, _, fps) in enumerate(CLIPS):
        arr = clip_frames(i)
        p = write_video(root / f"clip{i}.avi", arr, fps=fps, codec="ffv1", crf=None,
                        pix_fmt="bgr0")
        np.save(root / f"clip{i}.npy", arr)
        out.append(Path(p))
    return out


def build_checkpoint(path: Path, seed: int = 0, family: str = "qwen2_5_vl") -> Path:
    """A tiny Qwen2.5-VL (or ``family="qwen2_vl"``: Qwen2-VL) checkpoint, with the released
    checkpoints' repetition penalty."""
    from transformers import GenerationConfig

    from videojury.models.tiny import build_tiny

    p = build_tiny(family, path, seed=seed)
    gc = GenerationConfig.from_pretrained(p)
    gc.repetition_penalty = REPETITION_PENALTY
    gc.save_pretrained(p)
    return p
