"""VBench's aesthetic_quality: LAION's aesthetic predictor on CLIP ViT-L/14, divided by 10.

As ``vbench/aesthetic_quality.py``: every frame, CLIP's transform on the
float frames (bicubic 224 short side without antialias, centre crop, CLIP
normalisation), CLIP ViT-L/14 image embeddings (OpenAI's ``ViT-L-14.pt``) in
float32, L2-normalised, LAION's linear head (``sa_0_4_vit_l_14_linear.pth``),
each frame's score / 10, averaged over the frames. On CUDA CLIP runs in
float16 as ``clip.load`` leaves it (``dtype=float32`` to change that).
"""

from __future__ import annotations

from typing import Any

from ...video import Frames
from ..base import ScoreField, register_metric
from ._base import shared_model
from .consistency import _ClipB32, _features


@register_metric
class AestheticQuality(_ClipB32):
    """VBench aesthetic quality: LAION aesthetic score / 10, mean over frames."""

    name = "aesthetic_quality"
    version = "1"
    fields = (ScoreField("aesthetic_quality", None, None, True,
                         "mean over frames of LAION's aesthetic score / 10 (about 0-1)"),)
    description = "VBench aesthetic quality (LAION aesthetic head on CLIP ViT-L/14)."
    reference = ("VBench aesthetic_quality (Huang et al., CVPR 2024), LAION aesthetic "
                 "predictor v1")
    default_options = {"model": "openai-clip-vit-l-14", "head": "laion-aesthetic-vit-l-14",
                       "device": "", "dtype": "", "batch_size": 32}
    weight_kind = "an OpenAI CLIP checkpoint (ViT-L-14.pt)"

    def weight_options(self) -> tuple[str, ...]:
        return ("model", "head")

    def weight_path(self, option: str = "model"):
        if option == "head":
            from ...models.checkpoints import resolve_weight_file

            return resolve_weight_file(str(self.options["head"]),
                                       "LAION's aesthetic head (sa_0_4_vit_l_14_linear.pth)")
        return super().weight_path(option)

    def head(self):
        from ._nets import load_aesthetic_head

        path, dev = self.weight_path("head"), self.device()
        return shared_model(("aesthetic_head", str(path), dev),
                            lambda: load_aesthetic_head(path, dev))

    def load(self) -> None:
        self.model()
        self.head()

    def score_one(self, frames: Frames, item: Any) -> dict[str, float]:
        import torch
        import torch.nn.functional as F

        from ._nets import clip_transform

        net, head = self.model(), self.head()
        feats = _features(self, frames, net.encode_image, clip_transform,
                          self.torch_dtype(self.device()))
        with torch.no_grad():
            scores = head(F.normalize(feats, dim=-1, p=2).to(self.device())).squeeze(-1) / 10
        return {"aesthetic_quality": float(scores.mean().item())}
