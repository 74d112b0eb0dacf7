"""Deterministic synthetic clips and graded degradations of them.

``make_clip`` renders textured shapes moving over a textured background with
numpy and OpenCV; ``degrade`` applies one of ``blur``, ``noise``,
``compression``, ``flicker``, ``freeze`` or ``jitter`` at level 1-3 (0 is the
clip itself). Everything is seeded: the same arguments give the same pixels,
and :func:`make_dataset` encodes them with single-threaded x264, so the files
are byte-identical across runs on one machine.

These clips stand in for generated videos in the demo, the tests and the
benchmarks, where real T2V outputs cannot be downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import pandas as pd

from ..video import write_video

DEGRADATIONS = ("blur", "noise", "compression", "flicker", "freeze", "jitter")

# Strength of each degradation at levels 1, 2, 3.
LEVELS: dict[str, tuple[float, float, float]] = {
    "blur": (1.0, 2.0, 4.0),          # Gaussian sigma, pixels
    "noise": (6.0, 14.0, 28.0),       # Gaussian std, grey levels
    "compression": (40, 18, 6),       # JPEG quality per frame
    "flicker": (6.0, 14.0, 28.0),     # brightness swing, grey levels
    "freeze": (2, 4, 8),              # each frame held this many frames
    "jitter": (2.0, 5.0, 10.0),       # random shift per frame, pixels
}

PROMPTS = (
    "a red ball and a blue box drifting across a sunlit stone wall",
    "colourful kites floating over a striped meadow",
    "two wooden blocks sliding past a marble texture",
    "bubbles rising slowly in front of a patterned curtain",
    "a yellow disc chasing a green square over rippled sand",
    "paper shapes gliding over a woven fabric",
)


def _texture(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Band-limited noise texture in [0, 1] (a cheap stand-in for natural detail)."""
    small = rng.standard_normal((max(2, int(h / scale)), max(2, int(w / scale))))
    tex = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.standard_normal((h, w)), (0, 0), 0.8)
    tex = tex + 0.35 * fine
    tex -= tex.min()
    return tex / max(tex.max(), 1e-9)


@dataclass(frozen=True)
class ClipSpec:
    """Size and length of synthetic clips."""

    width: int = 256
    height: int = 192
    frames: int = 24
    fps: float = 12.0


def make_clip(seed: int = 0, spec: ClipSpec = ClipSpec(), motion: float = 1.0) -> np.ndarray:
    """Render a clip (T, H, W, 3) uint8 of textured shapes moving over a background.

    ``motion`` scales the shapes' speed (0 gives a static scene).
    """
    rng = np.random.default_rng(seed)
    h, w, t = spec.height, spec.width, spec.frames
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base_col = rng.uniform(60, 200, 3)
    grad = (xx / w)[..., None] * rng.uniform(-40, 40, 3) + (yy / h)[..., None] * rng.uniform(
        -40, 40, 3)
    tex = _texture(rng, h, w, 12.0)[..., None] * rng.uniform(30, 70, 3)
    background = np.clip(base_col + grad + tex - 35, 0, 255).astype(np.float32)

    shapes = []
    for k in range(3):
        sw, sh = int(rng.uniform(0.15, 0.3) * w), int(rng.uniform(0.15, 0.3) * h)
        colour = rng.uniform(20, 235, 3)
        stex = _texture(rng, sh, sw, 4.0)[..., None] * 60 - 30
        patch = np.clip(colour + stex, 0, 255).astype(np.float32)
        mask = np.zeros((sh, sw), np.float32)
        if k % 2 == 0:
            cv2.ellipse(mask, (sw // 2, sh // 2), (sw // 2 - 1, sh // 2 - 1), 0, 0, 360, 1.0, -1)
        else:
            mask[1:-1, 1:-1] = 1.0
        mask = cv2.GaussianBlur(mask, (0, 0), 0.7)[..., None]
        x0, y0 = rng.uniform(0, w - sw), rng.uniform(0, h - sh)
        vx, vy = rng.uniform(-1, 1, 2) * motion * np.array([w, h]) / (1.5 * t)
        shapes.append((patch, mask, x0, y0, vx, vy))

    out = np.empty((t, h, w, 3), np.uint8)
    for i in range(t):
        frame = background.copy()
        for patch, mask, x0, y0, vx, vy in shapes:
            sh, sw = mask.shape[:2]
            x = int(round((x0 + vx * i) % (w - sw)))
            y = int(round((y0 + vy * i) % (h - sh)))
            region = frame[y:y + sh, x:x + sw]
            frame[y:y + sh, x:x + sw] = region * (1 - mask) + patch * mask
        out[i] = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
    return out


def degrade(frames: np.ndarray, kind: str, level: int, seed: int = 0) -> np.ndarray:
    """Apply degradation ``kind`` at ``level`` (0 = none, 1-3 = stronger)."""
    if level == 0:
        return frames.copy()
    if kind not in LEVELS:
        raise ValueError(f"unknown degradation {kind!r}; choose from {', '.join(DEGRADATIONS)}")
    if level not in (1, 2, 3):
        raise ValueError(f"degradation level must be 0-3, got {level}")
    strength = LEVELS[kind][level - 1]
    rng = np.random.default_rng(10_000 + seed * 31 + level)
    t = len(frames)
    if kind == "blur":
        return np.stack([cv2.GaussianBlur(f, (0, 0), float(strength)) for f in frames])
    if kind == "noise":
        noise = rng.normal(0.0, float(strength), frames.shape)
        return np.clip(frames + noise + 0.5, 0, 255).astype(np.uint8)
    if kind == "compression":
        out = []
        for f in frames:
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, int(strength)])
            out.append(cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
        return np.stack(out)
    if kind == "flicker":
        signs = np.where(np.arange(t) % 2 == 0, 1.0, -1.0)
        swing = signs * float(strength) * rng.uniform(0.6, 1.0, t)
        return np.clip(frames.astype(np.float32) + swing[:, None, None, None] + 0.5, 0,
                       255).astype(np.uint8)
    if kind == "freeze":
        hold = int(strength)
        return frames[(np.arange(t) // hold) * hold].copy()
    if kind == "jitter":
        h, w = frames.shape[1:3]
        out = []
        for f in frames:
            dx, dy = rng.uniform(-strength, strength, 2)
            m = np.float32([[1, 0, dx], [0, 1, dy]])
            out.append(cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT))
        return np.stack(out)
    raise AssertionError(kind)  # pragma: no cover


def make_dataset(
    out_dir: str | os.PathLike,
    n_clips: int = 3,
    kinds: Sequence[str] = DEGRADATIONS,
    levels: Iterable[int] = (1, 2, 3),
    spec: ClipSpec = ClipSpec(),
    seed: int = 0,
) -> Path:
    """Write pristine clips and their degradations, plus ``manifest.csv``.

    Manifest columns: ``video`` (relative path), ``prompt``, ``prompt_id``,
    ``degradation`` (``none`` for the pristine clip), ``level``. Returns the
    manifest's path.
    """
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    levels = list(levels)
    for c in range(n_clips):
        clip = make_clip(seed + c, spec)
        pid = f"p{c:03d}"
        prompt = PROMPTS[c % len(PROMPTS)]
        variants = [("none", 0)] + [(k, lv) for k in kinds for lv in levels]
        for kind, level in variants:
            name = f"{pid}_{kind}{level if level else ''}.mp4"
            frames = degrade(clip, kind, level, seed=seed + c)
            write_video(root / name, frames, fps=spec.fps)
            rows.append({"video": name, "prompt": prompt, "prompt_id": pid,
                         "degradation": kind, "level": level})
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest
