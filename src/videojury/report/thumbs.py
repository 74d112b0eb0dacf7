"""Thumbnail strips: a few uniformly sampled frames of a video side by side, as JPEG."""

from __future__ import annotations

import os

import cv2
import numpy as np

from ..errors import VideoJuryError
from ..video import FramePolicy, Resize, sample


def strip_array(frames: np.ndarray, gap: int = 2) -> np.ndarray:
    """Frames (T, H, W, 3) side by side with a white gap between them."""
    t, h, w, c = frames.shape
    out = np.full((h, t * w + (t - 1) * gap, c), 255, np.uint8)
    for i in range(t):
        x = i * (w + gap)
        out[:, x:x + w] = frames[i]
    return out


def thumbnail_strip(path: str | os.PathLike, n: int = 5, height: int = 72,
                    quality: int = 80) -> bytes | None:
    """JPEG bytes of ``n`` frames of the video (each ``height`` pixels tall), or None
    when the video cannot be read (the report then shows the error instead)."""
    try:
        fr = sample(path, FramePolicy.uniform(n, resize=Resize(short_side=height)))
    except (VideoJuryError, OSError, ValueError):
        return None
    arr = fr.array
    if arr.shape[1] != height:  # a portrait video: short side is the width; fix the height
        scale = height / arr.shape[1]
        arr = np.stack([cv2.resize(f, (max(1, round(f.shape[1] * scale)), height),
                                   interpolation=cv2.INTER_AREA) for f in arr])
    img = strip_array(arr)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return buf.tobytes() if ok else None


__all__ = ["strip_array", "thumbnail_strip"]
