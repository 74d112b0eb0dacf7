"""VBench's style and video-text dimensions: appearance_style (CLIP ViT-B/32),
overall_consistency and temporal_style (ViCLIP-L/14).

overall_consistency and temporal_style follow ``vbench/overall_consistency.py``
and ``vbench/temporal_style.py`` (the same function on different prompts): 8
frames, the middle one of each of 8 equal integer intervals
(``get_frame_indices(sample="middle")``, the last repeated for shorter
videos), CLIP's transform on the uint8 frames (the bicubic resize rounds to
uint8, as on decord's tensors), ViCLIP's video feature and its text feature
of the prompt (context 32, truncated), both L2-normalised; the score is their
cosine. ViCLIP runs in float32 on every device, as in VBench.

appearance_style: CLIP ViT-B/32 similarity of each frame to the style text.

As ``vbench/appearance_style.py``: the style text comes from the prompt
file's ``auxiliary_info`` (``{"appearance_style": "Van Gogh style"}``), not
from the prompt; every frame goes through ``clip_transform_Image`` (PIL
bicubic 224 short side, centre crop, ``ToTensor``, CLIP normalisation); the
frame's score is CLIP's ``logits_per_text`` / 100, i.e.
``exp(logit_scale) * cos / 100`` (OpenAI's checkpoints hold logit_scale =
ln 100, so this is the cosine); the video's score is the mean over frames.
The text is tokenised with OpenAI's BPE (open_clip ships the same tokenizer).
Frames are encoded in batches (VBench: one at a time), and the logit is
computed in float32 after the features (on CUDA VBench computes it in float16).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import MetricError
from ...video import Frames
from ..base import ScoreField, register_metric
from ._base import VBenchMetric, frame_batches, shared_model
from .consistency import _ClipB32


def style_text(item: Any, override: str = "") -> str:
    """The style an item is to be judged against: the ``style`` option, else the item's
    ``appearance_style`` column, else VBench's ``auxiliary_info`` (dict or JSON text)."""
    if override:
        return override
    extra = getattr(item, "extra", None) or {}
    value = extra.get("appearance_style")
    if not value and extra.get("auxiliary_info"):
        aux = extra["auxiliary_info"]
        if isinstance(aux, str):
            import json

            try:
                aux = json.loads(aux)
            except ValueError:
                aux = {}
        if isinstance(aux, dict):
            value = aux.get("appearance_style")
    while isinstance(value, dict):  # VBench nests {"appearance_style": {"appearance_style": s}}
        value = value.get("appearance_style")
    if not value or not isinstance(value, str):
        where = getattr(item, "where", getattr(item, "video", "this item"))
        raise MetricError(f"{where}: appearance_style needs the style text: a column "
                          "appearance_style (VBench's auxiliary_info) or style=TEXT")
    return value


@register_metric
class AppearanceStyle(_ClipB32):
    """VBench appearance style: CLIP frame-to-style-text logit / 100, mean over frames."""

    name = "appearance_style"
    version = "1"
    fields = (ScoreField("appearance_style", None, None, True,
                         "mean over frames of CLIP logit(frame, style text) / 100"),)
    description = "VBench appearance style (CLIP ViT-B/32, frames vs the style text)."
    reference = "VBench appearance_style (Huang et al., CVPR 2024), CLIP ViT-B/32"
    default_options = {"model": "openai-clip-vit-b-32", "style": "", "device": "", "dtype": "",
                       "batch_size": 32}

    def text_for(self, item: Any) -> str:
        # part of the store key; an item without a style becomes an error row when scored
        try:
            return style_text(item, self.options["style"])
        except MetricError:
            return ""

    def score_one(self, frames: Frames, item: Any) -> dict[str, float]:
        import torch
        import torch.nn.functional as F

        from ._nets import clip_image_batch, clip_tokenize

        net, dev = self.model(), self.device()
        dtype = self.torch_dtype(dev)
        tokens = clip_tokenize([style_text(item, self.options["style"])],
                               int(net.positional_embedding.shape[0])).to(dev)
        with torch.no_grad():
            txt = F.normalize(net.encode_text(tokens).float(), dim=-1)
            img = torch.cat([net.encode_image(clip_image_batch(b).to(dev, dtype)).float()
                             for b in frame_batches(frames, int(self.options["batch_size"]))])
            img = F.normalize(img, dim=-1)
            logits = net.logit_scale.exp().float() * (img @ txt.T)[:, 0] / 100
        return {"appearance_style": float(logits.double().mean().item())}


class _ViCLIPMetric(VBenchMetric):
    """Shared: ViCLIP's video feature of 8 frames against its text feature of the prompt."""

    needs_prompt = True
    default_options = {"model": "viclip-l14", "device": "", "batch_size": 1}
    weight_kind = "a ViCLIP checkpoint (ViClip-InternVid-10M-FLT.pth)"
    option_choices = {}

    def torch_dtype(self, device: str):
        import torch

        return torch.float32  # VBench runs ViCLIP in float32 on every device

    def frame_policy(self):
        from ...video import FramePolicy

        # VBench's 8 middle frames depend on the frame count: every frame is decoded and held
        return FramePolicy.all(min_frames=1)

    def model(self):
        from ._nets import load_viclip

        path, dev = self.weight_path(), self.device()
        return shared_model(("viclip", str(path), dev), lambda: load_viclip(path, dev))

    def score_one(self, frames: Frames, item: Any) -> dict[str, float]:
        import torch
        import torch.nn.functional as F

        from ._nets import clip_transform, vbench_middle_indices, viclip_tokenize

        net, dev = self.model(), self.device()
        arr = frames.array
        pick = vbench_middle_indices(len(arr), int(net.vision_encoder.temporal_positional_embedding
                                                   .shape[1]))
        x = torch.from_numpy(np.ascontiguousarray(arr[pick])).permute(0, 3, 1, 2)  # uint8
        with torch.no_grad():
            video = clip_transform(x).unsqueeze(0).to(dev)
            vid = F.normalize(net.vision_encoder(video).float(), dim=-1)
            tokens = viclip_tokenize([item.prompt or ""], net.context_length).to(dev)
            txt = F.normalize(net.text_encoder(tokens).float(), dim=-1)
        return {self.fields[0].name: float((vid @ txt.T)[0, 0].item())}


@register_metric
class OverallConsistency(_ViCLIPMetric):
    """VBench overall consistency: ViCLIP video-prompt cosine (8 middle frames)."""

    name = "overall_consistency"
    version = "1"
    fields = (ScoreField("overall_consistency", -1.0, 1.0, True,
                         "ViCLIP cosine of 8 frames' video feature and the prompt's"),)
    description = "VBench overall consistency (ViCLIP-L/14 video-text similarity)."
    reference = "VBench overall_consistency (Huang et al., CVPR 2024), ViCLIP (InternVid)"


@register_metric
class TemporalStyle(_ViCLIPMetric):
    """VBench temporal style: the same ViCLIP video-prompt cosine on the style prompts."""

    name = "temporal_style"
    version = "1"
    fields = (ScoreField("temporal_style", -1.0, 1.0, True,
                         "ViCLIP cosine of 8 frames' video feature and the prompt's"),)
    description = "VBench temporal style (ViCLIP-L/14 video-text similarity on style prompts)."
    reference = "VBench temporal_style (Huang et al., CVPR 2024), ViCLIP (InternVid)"
