"""The ``vsfa`` metric: VSFA (Li et al., ACM MM 2019) with its released weights.

Protocol of VSFA's ``test_demo.py``: every frame at its own size, scaled to
0..1 and ImageNet-normalised, through torchvision's ImageNet ResNet-50 (mean
and std of ``res5c``), then ``models/VSFA.pt`` (GRU and temporal pooling). No
randomness. Frames are streamed in chunks of ``frame_batch`` (32, the demo's
default), so memory does not grow with the video's length; the head runs once
per batch of videos (the GRU is causal, so padding the shorter videos changes
nothing). Parity: ``tests/test_vqa_vsfa.py``, ``benchmarks/parity/vsfa/``.
"""

from __future__ import annotations

from typing import Any, Sequence

from ...errors import MetricError
from ...video import Frames
from ..base import ScoreField, register_metric
from . import _shared, _VQAMetric


@register_metric
class VSFA(_VQAMetric):
    """VSFA: ResNet-50 content features per frame, GRU, subjectively-inspired temporal pooling."""

    name = "vsfa"
    version = "1"
    fields = (ScoreField("vsfa", None, None, True,
                         "VSFA quality (trained on KoNViD-1k with MOS / max MOS: about 0-1)"),)
    description = "VSFA video quality (ResNet-50 features, GRU, temporal pooling; weights MIT)."
    reference = ("VSFA (Li, Jiang and Jiang, ACM MM 2019), lidq92/VSFA test_demo.py; VSFA.pt MIT, "
                 "ImageNet ResNet-50 from torchvision (BSD-3-Clause)")
    default_options = {"model": "vsfa", "backbone": "resnet50-imagenet", "device": "",
                       "batch_size": 4, "frame_batch": 32}
    runtime_options = frozenset({"device", "batch_size", "frame_batch"})
    option_ranges = {"frame_batch": ">= 1"}
    weight_kind = "VSFA's models/VSFA.pt"

    def backbone_path(self):
        from ...models.checkpoints import resolve_weight_file

        return resolve_weight_file(str(self.options["backbone"]),
                                   "torchvision's ImageNet ResNet-50 (resnet50-0676ba61.pth)")

    def identity(self, hash_file) -> dict[str, str]:
        from ...models.checkpoints import weight_file_identity

        out = super().identity(hash_file)
        out["backbone"] = weight_file_identity(self.backbone_path(), hash_file)
        return out

    def model(self):
        from ...models.vqa.vsfa import load_resnet50, load_vsfa_head

        head, trunk, dev = self.weight_path(), self.backbone_path(), self.device()
        return (_shared(("resnet50", str(trunk), dev), lambda: load_resnet50(trunk).to(dev)),
                _shared(("vsfa", str(head), dev), lambda: load_vsfa_head(head).to(dev)))

    def features(self, frames: Frames):
        """(T, 4096) content features of every frame of one video (on the CPU)."""
        import numpy as np
        import torch

        from ...models.vqa.vsfa import IMAGENET_MEAN, IMAGENET_STD

        trunk, _ = self.model()
        dev = self.device()
        fb = int(self.options.get("frame_batch", 32))
        mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
        out, chunk = [], []

        def flush():
            with torch.no_grad():
                out.append(trunk.vsfa_features(torch.stack(chunk).to(dev)).cpu())
            chunk.clear()

        for arr in frames.iter():
            t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float().div(255)
            chunk.append((t - mean) / std)
            if len(chunk) == fb:
                flush()
        if chunk:
            flush()
        if not out:
            raise MetricError(f"{frames.info.path}: no frames")
        return torch.cat(out)

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        import torch

        _, head = self.model()
        dev = self.device()
        feats = [self.features(f) for f in frames]
        lengths = [len(x) for x in feats]
        padded = torch.zeros(len(feats), max(lengths), feats[0].shape[1])
        for i, x in enumerate(feats):
            padded[i, :len(x)] = x
        with torch.no_grad():
            scores = head(padded.to(dev), lengths)
        return [{"vsfa": float(s)} for s in scores.tolist()]
