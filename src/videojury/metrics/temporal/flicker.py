"""Temporal flickering (VBench) and frozen frames.

Both read the same per-pair quantity: the mean absolute difference between
consecutive frames over all pixels and channels, in 0-255 grey levels.

``flicker`` follows VBench's ``temporal_flickering`` exactly: every frame at
native resolution, MAE per consecutive pair, averaged over the pairs, and
``score = (255 - mean MAE) / 255``. What it leaves out: VBench scores this
dimension only on its own prompts for static scenes and drops videos that its
RAFT optical-flow filter finds to be moving; we score every video, so on a
moving clip the score mixes real motion with flicker (pair it with
``dynamic_degree``). VBench decodes with OpenCV (BGR); we decode with PyAV
(RGB): channel order does not change the MAE, and both use FFmpeg's decoder.

``frozen`` counts the share of consecutive pairs whose MAE is below a
threshold (a repeated or nearly repeated frame).

Both stream their frames (``FramePolicy(stream=True)``): two frames are held
at a time and one float per pair is kept, so memory does not grow with the
clip's length, and the scores are the same as with every frame held.
"""

from __future__ import annotations

import numpy as np

from typing import Iterable

from ...video import FramePolicy, Frames, Resize
from ..base import Metric, ScoreField, register_metric


def pair_mae(frames: np.ndarray | Iterable[np.ndarray]) -> np.ndarray:
    """Mean absolute difference of each consecutive pair of uint8 frames (T-1 values).

    Takes an array or any iterable of frames (e.g. ``Frames.iter()``) and
    works pair by pair in int16, so memory stays at two frames' worth.
    """
    out: list[float] = []
    prev = None
    for frame in frames:
        cur = frame.astype(np.int16)
        if prev is not None:
            out.append(np.abs(cur - prev).mean(dtype=np.float64))
        prev = cur
    return np.array(out, dtype=np.float64)


def _policy(max_frames: int, short_side: int) -> FramePolicy:
    resize = Resize(short_side=short_side) if short_side else None
    return FramePolicy.all(max_frames=max_frames or None, min_frames=2, resize=resize,
                           stream=True)


@register_metric
class Flicker(Metric):
    """VBench temporal flickering: (255 - mean consecutive-frame MAE) / 255."""

    name = "flicker"
    version = "1"
    fields = (ScoreField("flicker", 0.0, 1.0, True,
                         "1 - mean absolute change between consecutive frames / 255"),)
    description = "Temporal flickering as in VBench (all frames, native size)."
    reference = "VBench temporal_flickering (Huang et al., CVPR 2024)"
    default_options = {"max_frames": 0, "short_side": 0}

    def frame_policy(self) -> FramePolicy:
        return _policy(self.options["max_frames"], self.options["short_side"])

    def score(self, frames: Frames, item) -> dict[str, float]:
        mae = pair_mae(frames.iter())
        return {"flicker": (255.0 - float(mae.mean())) / 255.0}


@register_metric
class Frozen(Metric):
    """Share of consecutive frame pairs that are identical or nearly so."""

    name = "frozen"
    version = "1"
    fields = (
        ScoreField("frozen_ratio", 0.0, 1.0, False,
                   "share of consecutive pairs with mean abs difference < threshold"),
        ScoreField("frozen_longest", 0.0, None, False,
                   "longest run of repeated frames, as a share of the clip"),
    )
    description = "Frame freezing: repeated frames (mean abs difference below threshold)."
    default_options = {"threshold": 0.5, "max_frames": 0, "short_side": 0}

    def frame_policy(self) -> FramePolicy:
        return _policy(self.options["max_frames"], self.options["short_side"])

    def score(self, frames: Frames, item) -> dict[str, float]:
        still = pair_mae(frames.iter()) < float(self.options["threshold"])
        longest = run = 0
        for s in still:
            run = run + 1 if s else 0
            longest = max(longest, run)
        return {"frozen_ratio": float(still.mean()),
                "frozen_longest": longest / float(len(still))}
