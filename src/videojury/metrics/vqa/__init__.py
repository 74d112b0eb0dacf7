"""Deep VQA networks as metrics: ``fast_vqa``, ``faster_vqa`` and ``dover``.

Each runs its authors' official checkpoint (listed in
:data:`videojury.models.checkpoints.WEIGHT_FILES`; nothing downloads by
itself) on the official test-time views (:mod:`videojury.models.vqa.views`)
and maps the raw output as the official inference script does. Where the
official code samples at random (fragment offsets; DOVER's frame offsets)
the draws come from generators seeded with ``seed`` (default 0), so a
video always gets the same score. Parity with the official repositories'
code on seeded random weights: ``tests/test_vqa_parity.py``,
``benchmarks/parity/{fastvqa,dover}/``, ``docs/vqa_models.md``.

DOVER's weights are under the S-Lab License 1.0: non-commercial use only.
"""

from __future__ import annotations

import math
import threading
from typing import Any, ClassVar, Sequence

import numpy as np

from ...errors import MetricError
from ...video import FramePolicy, Frames
from ..base import Metric, ScoreField, register_metric

_MODELS: dict[tuple, Any] = {}
_LOCK = threading.Lock()

# vqa.py's sigmoid_rescale constants (mean, std of the raw scores).
FAST_VQA_RESCALE = {"fast_vqa": (-0.110198185, 0.04178565),
                    "faster_vqa": (0.14759505, 0.03613452)}
# evaluate_one_video.py's fuse_results constants.
DOVER_FUSE = dict(t_mean=0.1107, t_std=0.07355, t_w=0.6104,
                  a_mean=-0.08285, a_std=0.03774, a_w=0.3896)


def _shared(key: tuple, build) -> Any:
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = build()
        return _MODELS[key]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def dover_fuse(technical: float, aesthetic: float) -> float:
    """DOVER's fused overall score in (0, 1) from the two raw branch scores."""
    c = DOVER_FUSE
    x = ((technical - c["t_mean"]) / c["t_std"] * c["t_w"]
         + (aesthetic - c["a_mean"]) / c["a_std"] * c["a_w"])
    return sigmoid(x)


class _VQAMetric(Metric):
    extra = "models"
    weight_kind: ClassVar[str] = "a checkpoint"
    runtime_options = frozenset({"device", "batch_size"})
    option_ranges = {"seed": ">= 0"}
    batch_size = 4

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if int(self.options.get("batch_size", 1)) < 1:
            raise MetricError(f"metric {self.name}: batch_size must be >= 1")

    def weight_path(self):
        from ...models.checkpoints import resolve_weight_file

        return resolve_weight_file(str(self.options["model"]), self.weight_kind)

    def device(self) -> str:
        from ...models.loading import select_device

        return select_device(self.options.get("device") or None)

    def identity(self, hash_file) -> dict[str, str]:
        from ...models.checkpoints import weight_file_identity

        return {"device": self.device().split(":", 1)[0], "dtype": "float32",
                "model": weight_file_identity(self.weight_path(), hash_file)}

    def frame_policy(self) -> FramePolicy:
        # Every frame streamed once; the views keep only the frames they use.
        return FramePolicy.all(stream=True)

    def load(self) -> None:
        self.model()

    def generators(self, frames: Frames):
        import torch

        seed = int(self.options.get("seed", 0))
        return np.random.RandomState(seed), torch.Generator().manual_seed(seed)

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        return self.score_batch([frames], [item])[0]

    def _count(self, frames: Frames) -> int:
        n = int(frames.info.frame_count)
        if n < 1:
            raise MetricError(f"{frames.info.path}: no frames")
        return n

    def _size(self, frames: Frames) -> tuple[int, int]:
        return int(frames.info.height), int(frames.info.width)


class _FastVQA(_VQAMetric):
    num_clips: ClassVar[int] = 4
    aligned: ClassVar[int] = 32
    weight_kind = "a FAST-VQA checkpoint (FAST_VQA_B_1_4.pth)"

    def model(self):
        from ...models.vqa.nets import load_fastvqa

        path, dev = self.weight_path(), self.device()
        return _shared(("fastvqa", str(path), dev), lambda: load_fastvqa(path).to(dev))

    def views(self, frames: Frames):
        """The normalised clips (num_clips, 3, 32, 224, 224) of one video."""
        import torch

        from ...models.vqa import views as V

        n = self._count(frames)
        h, w = self._size(frames)
        _, gen = self.generators(frames)
        idx = V.test_clip_indices(n, 32, self.num_clips)
        plan = V.fragment_plan(h, w, len(idx), self.aligned, gen)
        got = V.gather(frames, {"f": idx}, lambda _n, pos, t: V.fragment_frame(t, plan, pos))
        clip = V.normalize(torch.stack(got["f"], 1))  # 3, T, 224, 224
        return clip.reshape(3, self.num_clips, 32, 224, 224).transpose(0, 1)

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        import torch

        net, dev = self.model(), self.device()
        with self.timed("preprocess"):
            clips = [self.views(f) for f in frames]
        with torch.no_grad():
            raw = net(torch.cat(clips).to(dev)).view(len(frames), self.num_clips).mean(1)
        mean, std = FAST_VQA_RESCALE[self.name]
        out = []
        for r in raw.tolist():
            out.append({self.name: sigmoid((r - mean) / std), f"{self.name}_raw": float(r)})
        return out


@register_metric
class FastVQA(_FastVQA):
    """FAST-VQA (B, 1x4): fragments, 4 clips of 32 frames, sigmoid-rescaled mean score."""

    name = "fast_vqa"
    version = "1"
    fields = (ScoreField("fast_vqa", 0.0, 1.0, True,
                         "FAST-VQA quality in (0, 1): sigmoid((raw - m) / s) as vqa.py"),
              ScoreField("fast_vqa_raw", None, None, True, "raw network output (mean over clips)"))
    description = "FAST-VQA technical video quality (fragment-sampled Video Swin-T)."
    reference = ("FAST-VQA (Wu et al., ECCV 2022), VQAssessment/FAST-VQA-and-FasterVQA vqa.py; "
                 "weights MIT")
    default_options = {"model": "fast-vqa-b", "seed": 0, "device": "", "batch_size": 4}


@register_metric
class FasterVQA(_FastVQA):
    """FasterVQA (3D 1x1): fragments re-drawn every 8 frames, 1 clip of 32 frames."""

    name = "faster_vqa"
    version = "1"
    num_clips = 1
    aligned = 8
    fields = (ScoreField("faster_vqa", 0.0, 1.0, True,
                         "FasterVQA quality in (0, 1): sigmoid((raw - m) / s) as vqa.py"),
              ScoreField("faster_vqa_raw", None, None, True, "raw network output"))
    description = "FasterVQA technical video quality (fragment-sampled Video Swin-T)."
    reference = ("FasterVQA (Wu et al., TPAMI 2023), VQAssessment/FAST-VQA-and-FasterVQA vqa.py; "
                 "weights MIT")
    weight_kind = "a FasterVQA checkpoint (FAST_VQA_3D_1_1.pth)"
    default_options = {"model": "faster-vqa", "seed": 0, "device": "", "batch_size": 8}


@register_metric
class Dover(_VQAMetric):
    """DOVER: technical (fragments) and aesthetic (224x224) quality, and the fused score."""

    name = "dover"
    version = "1"
    fields = (ScoreField("dover", 0.0, 1.0, True,
                         "fused overall quality in (0, 1), evaluate_one_video.py's fuse_results"),
              ScoreField("dover_technical", None, None, True, "raw technical-branch score"),
              ScoreField("dover_aesthetic", None, None, True, "raw aesthetic-branch score"))
    description = ("DOVER technical + aesthetic video quality (weights: S-Lab License 1.0, "
                   "non-commercial use only).")
    reference = ("DOVER (Wu et al., ICCV 2023), VQAssessment/DOVER evaluate_one_video.py; "
                 "weights S-Lab License 1.0 (NON-COMMERCIAL)")
    default_options = {"model": "dover", "seed": 0, "device": "", "batch_size": 2}
    weight_kind = "a DOVER checkpoint (DOVER.pth)"

    def model(self):
        from ...models.vqa.nets import load_dover

        path, dev = self.weight_path(), self.device()
        return _shared(("dover", str(path), dev), lambda: load_dover(path).to(dev))

    def views(self, frames: Frames):
        """(technical (3, 3, 32, 224, 224), aesthetic (1, 3, 32, 224, 224)) of one video."""
        import torch

        from ...models.vqa import views as V

        n = self._count(frames)
        h, w = self._size(frames)
        rng, gen = self.generators(frames)
        t_idx = V.unified_indices(n, 32, 3, 2, rng)
        a_idx = V.unified_indices(n, 1, 32, 2, rng)
        plan = V.fragment_plan(h, w, len(t_idx), 32, gen)

        def build(name, pos, t):
            return V.fragment_frame(t, plan, pos) if name == "t" else V.aesthetic_frame(t)

        got = V.gather(frames, {"t": t_idx, "a": a_idx}, build)
        tech = V.normalize(torch.stack(got["t"], 1)).reshape(3, 3, 32, 224, 224).transpose(0, 1)
        aes = V.normalize(torch.stack(got["a"], 1)).unsqueeze(0)
        return tech, aes

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        import torch

        net, dev = self.model(), self.device()
        with self.timed("preprocess"):
            views = [self.views(f) for f in frames]
        with torch.no_grad():
            tech = net.technical(torch.cat([v[0] for v in views]).to(dev))
            tech = tech.view(len(frames), 3).mean(1)
            aes = net.aesthetic(torch.cat([v[1] for v in views]).to(dev))
        out = []
        for t, a in zip(tech.tolist(), aes.tolist()):
            out.append({"dover": dover_fuse(t, a), "dover_technical": float(t),
                        "dover_aesthetic": float(a)})
        return out
