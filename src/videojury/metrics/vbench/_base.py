"""What the VBench metrics share: a weight file named by ``model``, device, lazy loading."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar, Sequence

from ...errors import MetricError
from ...video import FramePolicy, Frames
from ..base import Metric

_MODELS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def shared_model(key: tuple, build) -> Any:
    """One loaded model per key in this process (the CLIP ViT-B/32 of background
    consistency and appearance style is loaded once)."""
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = build()
        return _MODELS[key]


def frame_batches(frames: Frames, size: int):
    """The frames in order, ``size`` at a time, as (n, H, W, 3) uint8 arrays."""
    import numpy as np

    batch = []
    for f in frames.iter():
        batch.append(f)
        if len(batch) == size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)


def clear_models() -> None:
    with _LOCK:
        _MODELS.clear()


class VBenchMetric(Metric):
    """Base of the VBench dimensions that run a network from an official weight file.

    ``model``: a short name of the weight-file table or a path to the file.
    ``device``: "" picks CUDA when present. ``dtype``: "" does what VBench
    does on that device (see each metric). ``batch_size``: frames per
    forward pass (VBench runs DINO one frame at a time; batching changes
    the numbers only by float rounding).
    """

    extra = "models"
    weight_kind: ClassVar[str] = "a checkpoint"
    runtime_options = frozenset({"device", "batch_size"})
    resolved_options = frozenset({"dtype"})
    option_choices = {"dtype": ("", "float32", "float16", "bfloat16")}
    min_frames: ClassVar[int] = 1

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if int(self.options.get("batch_size", 1)) < 1:
            raise MetricError(f"metric {self.name}: batch_size must be >= 1")

    # --- files and devices ------------------------------------------------------
    def weight_options(self) -> tuple[str, ...]:
        """The options that name weight files (``model``; aesthetic also ``head``)."""
        return ("model",)

    def weight_path(self, option: str = "model") -> Path:
        from ...models.checkpoints import resolve_weight_file

        return resolve_weight_file(str(self.options[option]), self.weight_kind)

    def device(self) -> str:
        from ...models.loading import select_device

        return select_device(self.options.get("device") or None)

    def torch_dtype(self, device: str):
        """The compute dtype: the option, else VBench's choice (:meth:`default_dtype`)."""
        import torch

        d = self.options.get("dtype") or self.default_dtype(device)
        return getattr(torch, d)

    def default_dtype(self, device: str) -> str:
        return "float32"

    def identity(self, hash_file) -> dict[str, str]:
        dev = self.device()
        ident = {"device": dev.split(":", 1)[0], "dtype": str(self.torch_dtype(dev)).rsplit(".")[-1]}
        from ...models.checkpoints import weight_file_identity

        for opt in self.weight_options():
            ident[opt] = weight_file_identity(self.weight_path(opt), hash_file)
        return ident

    def frame_policy(self) -> FramePolicy:
        # every frame, streamed: batch_size frames are held at a time, whatever the length
        return FramePolicy.all(min_frames=self.min_frames, stream=True)

    def load(self) -> None:
        self.model()

    def model(self) -> Any:
        raise NotImplementedError

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        return self.score_batch([frames], [item])[0]

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        return [self.score_one(f, it) for f, it in zip(frames, items)]

    def score_one(self, frames: Frames, item: Any) -> dict[str, float]:
        raise NotImplementedError
