"""VBench's subject_consistency (DINO ViT-B/16) and background_consistency (CLIP ViT-B/32).

Both follow ``vbench/subject_consistency.py`` and
``vbench/background_consistency.py``: every frame of the video, one feature
per frame, L2-normalised; for each frame after the first, the mean of
``max(0, cos)`` with the first frame and with the previous one; the score is
the mean over those frames. Subject consistency resizes the short side to
224 (bilinear, no antialias, no crop: DINO sees the whole frame, its position
embedding resampled as DINO does) with ImageNet normalisation; background
consistency takes CLIP's bicubic 224 short side and centre crop with CLIP's
normalisation, as ``vbench.utils.clip_transform`` does. What differs from
VBench: frames go through the network in batches of ``batch_size`` (VBench
runs DINO one frame at a time and CLIP on the whole video at once), which
changes the values only by float rounding (< 1e-6 measured); frames are
streamed, so memory does not grow with the video's length.
"""

from __future__ import annotations

from typing import Any

from ...video import Frames
from ..base import ScoreField, register_metric
from ._base import VBenchMetric, frame_batches, shared_model


def _features(metric: VBenchMetric, frames: Frames, encode, transform, dtype) -> Any:
    import torch

    from ._nets import as_float_tchw

    dev = metric.device()
    out = []
    with torch.no_grad():
        for batch in frame_batches(frames, int(metric.options["batch_size"])):
            x = transform(as_float_tchw(batch)).to(device=dev, dtype=dtype)
            out.append(encode(x).float().cpu())
    return torch.cat(out)


@register_metric
class SubjectConsistency(VBenchMetric):
    """VBench subject consistency: DINO feature similarity to the first and previous frame."""

    name = "subject_consistency"
    version = "1"
    fields = (ScoreField("subject_consistency", 0.0, 1.0, True,
                         "mean over frames of (cos to first + cos to previous) / 2, DINO"),)
    description = "VBench subject consistency (DINO ViT-B/16 features across frames)."
    reference = "VBench subject_consistency (Huang et al., CVPR 2024), DINO (Caron et al., 2021)"
    default_options = {"model": "dino-vitb16", "device": "", "dtype": "", "batch_size": 16}
    weight_kind = "a DINO ViT checkpoint (dino_vitbase16_pretrain.pth)"
    min_frames = 2

    def model(self):
        from ._nets import load_dino

        path, dev = self.weight_path(), self.device()
        net = shared_model(("dino", str(path), dev), lambda: load_dino(path, dev))
        return net.to(self.torch_dtype(dev))

    def score_one(self, frames: Frames, item: Any) -> dict[str, float]:
        from ._nets import dino_transform, vbench_consistency

        net = self.model()
        feats = _features(self, frames, net, dino_transform, self.torch_dtype(self.device()))
        return {"subject_consistency": vbench_consistency(feats)}


class _ClipB32(VBenchMetric):
    """CLIP ViT-B/32 from OpenAI's file, float16 on CUDA as ``clip.load`` leaves it."""

    weight_kind = "an OpenAI CLIP checkpoint (ViT-B-32.pt)"

    def default_dtype(self, device: str) -> str:
        return "float16" if device.startswith("cuda") else "float32"

    def model(self):
        from ._nets import load_openai_clip

        path, dev = self.weight_path(), self.device()
        dt = self.torch_dtype(dev)
        return shared_model(("openai_clip", str(path), dev, str(dt)),
                            lambda: load_openai_clip(path, dev, dt))


@register_metric
class BackgroundConsistency(_ClipB32):
    """VBench background consistency: CLIP image-feature similarity across frames."""

    name = "background_consistency"
    version = "1"
    fields = (ScoreField("background_consistency", 0.0, 1.0, True,
                         "mean over frames of (cos to first + cos to previous) / 2, CLIP"),)
    description = "VBench background consistency (CLIP ViT-B/32 features across frames)."
    reference = "VBench background_consistency (Huang et al., CVPR 2024), CLIP ViT-B/32"
    default_options = {"model": "openai-clip-vit-b-32", "device": "", "dtype": "",
                       "batch_size": 32}
    min_frames = 2

    def score_one(self, frames: Frames, item: Any) -> dict[str, float]:
        from ._nets import clip_transform, vbench_consistency

        net = self.model()
        feats = _features(self, frames, net.encode_image, clip_transform,
                          self.torch_dtype(self.device()))
        return {"background_consistency": vbench_consistency(feats)}
