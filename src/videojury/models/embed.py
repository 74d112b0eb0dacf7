"""Image and text embeddings (CLIP, SigLIP, PickScore) and BLIP image-text matching.

:class:`DualEncoder` embeds frames and texts with a two-tower model and
returns L2-normalised vectors plus the model's own logit scale (and bias,
for SigLIP), from which the CLIP-family metrics compute their scores.
:class:`MatchScorer` runs BLIP's image-text matching head (probability that
a frame and a text match) and its contrastive cosine. Frames of several
videos go through the vision tower together, in chunks, so a batch costs one
pass per chunk rather than one per video.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Sequence

import numpy as np

from ..errors import MetricError
from .loading import Backbone

_CHUNK = 64  # frames per vision-tower pass; bounds activation memory
Timer = Callable[[str], ContextManager[None]]


def _no_timer(stage: str) -> ContextManager[None]:
    return contextlib.nullcontext()


def _torch():
    import torch

    return torch


def _as_tensor(out: Any):
    """transformers 5 returns model outputs from get_*_features; older ones a tensor."""
    torch = _torch()
    if isinstance(out, torch.Tensor):
        return out
    for name in ("pooler_output", "image_embeds", "text_embeds"):
        v = getattr(out, name, None)
        if isinstance(v, torch.Tensor):
            return v
    raise MetricError(f"unexpected embedding output {type(out).__name__}")


class DualEncoder:
    """A CLIP-style two-tower model: normalised image and text embeddings."""

    def __init__(self, backbone: Backbone) -> None:
        if backbone.checkpoint.kind != "dual":
            raise MetricError(f"model {backbone.checkpoint.name} is a "
                              f"{backbone.checkpoint.family} model; this metric needs a "
                              "CLIP-style embedding model (clip-vit-l-14, siglip-so400m, "
                              "pickscore)")
        self.backbone = backbone
        self.model = backbone.model
        self.processor = backbone.processor
        self.is_siglip = backbone.family == "siglip"

    @property
    def logit_scale(self) -> float:
        """exp of the learned temperature (100 for CLIP, about 110 for SigLIP)."""
        return float(self.model.logit_scale.exp().item())

    @property
    def logit_bias(self) -> float:
        """SigLIP's learned bias (0 for CLIP)."""
        bias = getattr(self.model, "logit_bias", None)
        return float(bias.item()) if bias is not None else 0.0

    def image_embeds(self, frames: Sequence[np.ndarray], timer: Timer | None = None):
        """(N, D) normalised embeddings of N RGB uint8 frames (H, W, 3)."""
        torch = _torch()
        timer = timer or _no_timer
        outs = []
        for j in range(0, len(frames), _CHUNK):
            chunk = [np.ascontiguousarray(f) for f in frames[j:j + _CHUNK]]
            with timer("preprocess"):
                px = self.processor(images=chunk, return_tensors="pt")["pixel_values"]
                px = px.to(self.backbone.device, self.backbone.dtype)
            with self.backbone.lock, torch.inference_mode():
                e = _as_tensor(self.model.get_image_features(pixel_values=px)).float()
            outs.append(torch.nn.functional.normalize(e, dim=-1))
        return torch.cat(outs).cpu()

    def image_embeds_grad(self, frames255):
        """(N, D) normalised embeddings of (N, 3, H, W) float frames in [0, 255], with
        gradients to the pixels (the reward path; see :mod:`videojury.models.pixels`)."""
        from .pixels import image_pixels, model_dtype

        torch = _torch()
        proc = getattr(self.processor, "image_processor", self.processor)
        px = image_pixels(frames255, proc)
        px = px.to(self.backbone.device, model_dtype(self.model))
        with self.backbone.lock, torch.enable_grad():
            e = _as_tensor(self.model.get_image_features(pixel_values=px))
        return torch.nn.functional.normalize(e, dim=-1)

    def text_embeds(self, texts: Sequence[str], inference: bool = True):
        """(N, D) normalised embeddings of N texts (truncated to the model's length).

        ``inference=False`` returns ordinary (no-grad) tensors that may enter an
        autograd graph, as the reward path needs."""
        torch = _torch()
        tok = self.backbone.tokenizer
        max_len = int(getattr(self.model.config.text_config, "max_position_embeddings", 77))
        # SigLIP was trained on texts padded to the full length; CLIP pools at
        # the end-of-text token, so the padding length does not matter there.
        pad = "max_length" if self.is_siglip else True
        enc = tok(list(texts), padding=pad, truncation=True, max_length=max_len,
                  return_tensors="pt")
        enc = {k: v.to(self.backbone.device) for k, v in enc.items()
               if k in ("input_ids", "attention_mask")}
        if self.is_siglip:
            enc.pop("attention_mask", None)  # SigLIP's text tower takes no mask
        with self.backbone.lock, (torch.inference_mode() if inference else torch.no_grad()):
            e = _as_tensor(self.model.get_text_features(**enc))
            e = e.float() if inference else e
        return torch.nn.functional.normalize(e, dim=-1).cpu() if inference else \
            torch.nn.functional.normalize(e, dim=-1)


class MatchScorer:
    """BLIP image-text matching: P(match) from the ITM head and the ITC cosine."""

    def __init__(self, backbone: Backbone) -> None:
        if backbone.checkpoint.kind != "itm":
            raise MetricError(f"model {backbone.checkpoint.name} is a "
                              f"{backbone.checkpoint.family} model; blip_itm needs a BLIP "
                              "image-text matching checkpoint (blip-itm-large)")
        self.backbone = backbone
        self.model = backbone.model
        self.processor = backbone.processor

    def match_prob_grad(self, frames255, texts: Sequence[str]):
        """P(match) and ITC cosine of each (frame, text) pair, frames (N, 3, H, W) floats
        in [0, 255], with gradients to the pixels (the reward path)."""
        from .pixels import image_pixels, model_dtype

        torch = _torch()
        if len(frames255) != len(texts):
            raise ValueError("frames and texts must pair up")
        max_len = int(self.model.config.text_config.max_position_embeddings)
        proc = getattr(self.processor, "image_processor", self.processor)
        px = image_pixels(frames255, proc).to(self.backbone.device, model_dtype(self.model))
        enc = self.backbone.tokenizer(list(texts), padding=True, truncation=True,
                                      max_length=max_len, return_tensors="pt")
        enc = {k: v.to(self.backbone.device) for k, v in enc.items()
               if k in ("input_ids", "attention_mask")}
        with self.backbone.lock, torch.enable_grad():
            itm = self.model(pixel_values=px, **enc, use_itm_head=True)
            itc = self.model(pixel_values=px, **enc, use_itm_head=False)
        logits = itm.itm_score if hasattr(itm, "itm_score") else itm[0]
        sim = itc.itm_score if hasattr(itc, "itm_score") else itc[0]
        cos = torch.diagonal(sim) if sim.ndim == 2 and sim.shape[0] == sim.shape[1] \
            else sim.reshape(-1)
        return torch.softmax(logits, dim=-1)[:, 1], cos

    def score(self, frames: Sequence[np.ndarray], texts: Sequence[str],
              timer: Timer | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per (frame, text) pair: match probability and cosine; pairs are zipped."""
        torch = _torch()
        timer = timer or _no_timer
        if len(frames) != len(texts):
            raise ValueError("frames and texts must pair up")
        probs, coss = [], []
        max_len = int(self.model.config.text_config.max_position_embeddings)
        for j in range(0, len(frames), _CHUNK):
            with timer("preprocess"):
                enc = self.processor(images=[np.ascontiguousarray(f)
                                             for f in frames[j:j + _CHUNK]],
                                     text=list(texts[j:j + _CHUNK]), padding=True,
                                     truncation=True, max_length=max_len, return_tensors="pt")
                enc = {k: (v.to(self.backbone.device, self.backbone.dtype)
                           if v.is_floating_point() else v.to(self.backbone.device))
                       for k, v in enc.items()}
            with self.backbone.lock, torch.inference_mode():
                itm = self.model(**enc, use_itm_head=True)
                itc = self.model(**enc, use_itm_head=False)
            logits = itm.itm_score if hasattr(itm, "itm_score") else itm[0]
            probs.append(torch.softmax(logits.float(), dim=-1)[:, 1].cpu().numpy())
            sim = itc.itm_score if hasattr(itc, "itm_score") else itc[0]
            coss.append(torch.diagonal(sim.float()).cpu().numpy() if sim.ndim == 2
                        and sim.shape[0] == sim.shape[1] else sim.float().reshape(-1).cpu().numpy())
        return np.concatenate(probs), np.concatenate(coss)
