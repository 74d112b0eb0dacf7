"""Test-only metrics: a slow one (for kill tests) and a batching one."""

from __future__ import annotations

import time

import numpy as np

from videojury.metrics import Metric, ScoreField, register_metric
from videojury.video import FramePolicy

CALLS: list[int] = []  # batch sizes seen by BatchMean.score_batch


@register_metric
class SlowMean(Metric):
    """Mean grey level of 2 frames, after a pause (so a run can be killed midway)."""

    name = "test_slow_mean"
    fields = (ScoreField("slow_mean", 0, 255, True),)
    default_options = {"sleep": 0.05}

    def frame_policy(self):
        return FramePolicy.uniform(2)

    def score(self, frames, item):
        time.sleep(self.options["sleep"])
        return {"slow_mean": float(frames.array.mean())}


@register_metric
class BatchMean(Metric):
    """Per-video mean and std of sampled frames, computed in batches."""

    name = "test_batch_mean"
    fields = (ScoreField("bm_mean", 0, 255, True), ScoreField("bm_std", 0, None, False))
    default_options = {"batch_size": 1}
    runtime_options = frozenset({"batch_size"})

    def __init__(self, **options):
        super().__init__(**options)
        self.batch_size = self.options["batch_size"]

    def frame_policy(self):
        return FramePolicy.uniform(3)

    def score_batch(self, frames, items):
        CALLS.append(len(frames))
        # Stack the batch like a model would; per-item results must not depend on the batch.
        stacked = np.stack([f.array.astype(np.float64) for f in frames])
        means = stacked.mean(axis=(1, 2, 3, 4))
        stds = stacked.std(axis=(1, 2, 3, 4))
        return [{"bm_mean": m, "bm_std": s} for m, s in zip(means, stds)]

    def score(self, frames, item):
        return self.score_batch([frames], [item])[0]


@register_metric
class LoadOnce(Metric):
    """Mean grey level, after a one-time load that takes ``load_sleep`` seconds
    (or fails with ``fail=True``)."""

    name = "test_load_once"
    fields = (ScoreField("lo_mean", 0, 255, True),)
    default_options = {"load_sleep": 0.3, "fail": False}
    loads = 0  # class-wide count of load() calls

    def load(self):
        type(self).loads += 1
        if self.options["fail"]:
            raise OSError("weights not found: run the download command first")
        time.sleep(self.options["load_sleep"])

    def frame_policy(self):
        return FramePolicy.uniform(2)

    def score(self, frames, item):
        return {"lo_mean": float(frames.array.mean())}
