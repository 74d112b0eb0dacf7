"""Turning a per-image quality function into a registered video metric.

NIQE, BRISQUE and PIQE judge single images. For a video we score a few
uniformly sampled frames at native resolution and pool the per-frame scores
(mean by default; median, min or max on request). A frame that cannot be
scored (too small, constant, ...) makes the whole item an error: quietly
dropping it would make the pooled score depend on which frames happened to
be degenerate.
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
    (mean|median|min|max) and ``short_side`` (resize before scoring; 0, the
    default, keeps the native size the metrics were designed for).
    """

    image_score: ClassVar[Callable[[np.ndarray], float]]
    default_options: ClassVar[dict[str, Any]] = {"frames": 8, "pool": "mean", "short_side": 0}
    option_ranges: ClassVar[dict[str, str]] = {"frames": ">= 1"}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.options["pool"] not in POOLS:
            raise MetricError(f"option 'pool' of metric {self.name!r} must be one of "
                              f"{', '.join(POOLS)}, got {self.options['pool']!r}")
        if self.options["frames"] < 1:
            raise MetricError(f"option 'frames' of metric {self.name!r} must be >= 1")
        if self.options["short_side"] < 0:
            raise MetricError(f"option 'short_side' of metric {self.name!r} must be >= 0")

    def frame_policy(self) -> FramePolicy:
        side = self.options["short_side"]
        return FramePolicy.uniform(self.options["frames"],
                                   resize=Resize(short_side=side) if side else None)

    def frame_scores(self, frames: Frames) -> np.ndarray:
        """The metric on every sampled frame; a frame it rejects raises :class:`MetricError`."""
        fn = type(self).image_score
        out = np.empty(len(frames), dtype=np.float64)
        for i, frame in enumerate(frames.array):
            try:
                out[i] = fn(frame)
            except ValueError as exc:
                index = int(frames.indices[i]) if len(frames.indices) > i else i
                raise MetricError(f"frame {index} cannot be scored: {exc}") from exc
        return out

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        values = self.frame_scores(frames)
        return {self.fields[0].name: pool_scores(values, self.options["pool"])}
