"""Turning a per-image quality function into a registered video metric.

NIQE, BRISQUE and PIQE judge single images. For a video we score a few
uniformly sampled frames at native resolution and pool the per-frame scores
(mean by default; median, min or max on request). A frame that cannot be
scored (too small, constant, ...) makes the whole item an error: quietly
dropping it would make the pooled score depend on which frames happened to
be degenerate.

``pool=love_matlab`` reproduces how LOVE's ``videobench.m`` pooled its
handcrafted columns, quirk included: it scores frames 1-8 (the first eight,
not spread), stores frame ``i`` at row ``1 + (i - 1) * floor((N - 1) / 7)``
and averages every row up to the last, zeros included, so the score is
``sum(first 8) / (1 + 7 * floor((N - 1) / 7))`` for an N-frame video (the
plain mean for N = 8..14, about 8/N of it for long videos).
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np

from ...errors import MetricError
from ...video import FramePolicy, Frames, Resize
from ..base import Metric

POOLS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": lambda v: float(np.mean(v)),
    "median": lambda v: float(np.median(v)),
    "min": lambda v: float(np.min(v)),
    "max": lambda v: float(np.max(v)),
}


LOVE_MATLAB = "love_matlab"
LOVE_FRAMES = 8
POOL_NAMES = (*POOLS, LOVE_MATLAB)


def love_matlab_pool(first_eight: np.ndarray, frame_count: int) -> float:
    """LOVE ``videobench.m``'s pooled score of an N-frame video from its first 8 frames' scores.

    ``sum(first_eight) / (1 + 7 * floor((N - 1) / 7))``: MATLAB grows the
    score matrix to row ``1 + 7 * floor((N - 1) / 7)`` and ``mean`` counts the
    unwritten (zero) rows. Videos shorter than 8 frames failed there (frame
    ``i`` is read for i = 1..8), so they are an error here.
    """
    v = np.asarray(first_eight, dtype=np.float64)
    if v.shape != (LOVE_FRAMES,):
        raise MetricError(f"pool 'love_matlab' needs the scores of the first {LOVE_FRAMES} "
                          f"frames, got {v.shape[0] if v.ndim else 0}")
    if frame_count < LOVE_FRAMES:
        raise MetricError(f"pool 'love_matlab' needs a video of at least {LOVE_FRAMES} frames "
                          f"(LOVE reads frames 1-8), this one has {frame_count}")
    rows = 1 + 7 * ((frame_count - 1) // 7)
    return float(np.sum(v) / rows)


def pool_scores(values: np.ndarray, how: str) -> float:
    """Pool per-frame scores with one of ``POOLS`` (mean, median, min, max)."""
    if how not in POOLS:
        raise MetricError(f"unknown pool {how!r}: use one of {', '.join(POOLS)}")
    if len(values) == 0:
        raise MetricError("no frame to pool")
    return POOLS[how](np.asarray(values, dtype=np.float64))


class FrameIQAMetric(Metric):
    """Base of the classical per-frame image quality metrics.

    Subclasses set ``name``, ``fields`` (one field, named like the metric)
    and ``image_score``, the pure function scoring one uint8 RGB frame.
    Options: ``frames`` (uniformly sampled frames, default 8), ``pool``
    (mean|median|min|max, or ``love_matlab``: LOVE's published protocol on
    the first 8 frames, which ignores ``frames``) and ``short_side`` (resize
    before scoring; 0, the default, keeps the native size the metrics were
    designed for).
    """

    image_score: ClassVar[Callable[[np.ndarray], float]]
    default_options: ClassVar[dict[str, Any]] = {"frames": 8, "pool": "mean", "short_side": 0}
    option_ranges: ClassVar[dict[str, str]] = {"frames": ">= 1"}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.options["pool"] not in POOL_NAMES:
            raise MetricError(f"option 'pool' of metric {self.name!r} must be one of "
                              f"{', '.join(POOL_NAMES)}, got {self.options['pool']!r}")
        if self.options["frames"] < 1:
            raise MetricError(f"option 'frames' of metric {self.name!r} must be >= 1")
        if self.options["short_side"] < 0:
            raise MetricError(f"option 'short_side' of metric {self.name!r} must be >= 0")

    def image_function(self) -> Callable[[np.ndarray], float]:
        """The per-frame scorer; a metric whose options reach it overrides this."""
        return type(self).image_score

    def frame_policy(self) -> FramePolicy:
        side = self.options["short_side"]
        if self.options["pool"] == LOVE_MATLAB:
            # Every frame is listed (the count matters) but only the first 8 are decoded.
            return FramePolicy.all(min_frames=LOVE_FRAMES, stream=True,
                                   resize=Resize(short_side=side) if side else None)
        return FramePolicy.uniform(self.options["frames"],
                                   resize=Resize(short_side=side) if side else None)

    def frame_scores(self, frames: Frames) -> np.ndarray:
        """The metric on every sampled frame; a frame it rejects raises :class:`MetricError`."""
        fn = self.image_function()
        out = np.empty(len(frames), dtype=np.float64)
        for i, frame in enumerate(frames.array):
            try:
                out[i] = fn(frame)
            except ValueError as exc:
                index = int(frames.indices[i]) if len(frames.indices) > i else i
                raise MetricError(f"frame {index} cannot be scored: {exc}") from exc
        return out

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        if self.options["pool"] == LOVE_MATLAB:
            return {self.fields[0].name: self._love_matlab(frames)}
        values = self.frame_scores(frames)
        return {self.fields[0].name: pool_scores(values, self.options["pool"])}

    def _love_matlab(self, frames: Frames) -> float:
        fn = self.image_function()
        count = len(frames)
        if count < LOVE_FRAMES:
            raise MetricError(f"pool 'love_matlab' needs at least {LOVE_FRAMES} frames "
                              f"(LOVE reads frames 1-8), this video has {count}")
        values = np.empty(LOVE_FRAMES, dtype=np.float64)
        it = frames.iter()
        try:
            for i in range(LOVE_FRAMES):
                frame = next(it)
                try:
                    values[i] = fn(frame)
                except ValueError as exc:
                    raise MetricError(f"frame {i} cannot be scored: {exc}") from exc
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
        return love_matlab_pool(values, count)
