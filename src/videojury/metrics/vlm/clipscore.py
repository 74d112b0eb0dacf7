"""CLIP-family text-video alignment and frame consistency.

Per frame, the frame's embedding is compared with the prompt's (cosine of
L2-normalised vectors), and the per-frame values are averaged over the
sampled frames (8 uniform by default):

* ``clipscore``: 2.5 * max(cos, 0), CLIPScore's rescaling (Hessel et al.,
  EMNLP 2021), in [0, 2.5]; ``clip_cosine`` is the plain cosine. Hessel et
  al. prefix captions with "A photo depicts"; we send the prompt as written
  (as video benchmarks do) unless ``text_prefix=`` says otherwise.
* ``siglip_score``: SigLIP's own calibrated match probability
  sigmoid(scale * cos + bias) as ``siglip_prob`` (the quantity SigLIP is
  trained to predict, in [0, 1]), and the plain cosine.
* ``pickscore``: PickScore (Kirstain et al., NeurIPS 2023), the learned
  logit scale times the cosine (about 100 * cos; Pick-a-Pic scores are
  around 18-23), and the cosine.
* ``blip_itm``: BLIP's image-text matching head's probability of "match",
  and its contrastive (ITC) cosine.
* ``clip_temporal``: consistency of consecutive frames' image embeddings
  (no prompt): ``clip_temporal`` is the mean cosine of each frame with the
  next; ``clip_temporal_vbench`` averages, for every frame after the first,
  the mean of its cosine to the first frame and to the previous frame, as
  VBench's subject / background consistency does (there with DINO /
  CLIP features; the backbone is the ``model`` option here).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import MetricError
from ...video import Frames
from ..base import ScoreField, register_metric
from ._common import COMMON_OPTIONS, ModelMetric


class _DualMetric(ModelMetric):
    """Shared: embed every frame of every item in one pass, and the texts in another."""

    _encoder = None

    def encoder(self):
        if self._encoder is None:
            from ...models.embed import DualEncoder

            self._encoder = DualEncoder(self.backbone())
        return self._encoder

    def frame_cosines(self, frames: Sequence[Frames], texts: Sequence[str]) -> list[np.ndarray]:
        """Per item, the cosine of each of its frames with its text."""
        enc = self.encoder()
        flat = [f for fr in frames for f in fr.array]
        img = enc.image_embeds(flat, timer=self.timed).numpy()
        uniq = sorted(set(texts))
        txt = enc.text_embeds(uniq).numpy()
        row = {t: i for i, t in enumerate(uniq)}
        out, k = [], 0
        for fr, t in zip(frames, texts):
            n = len(fr)
            out.append(img[k:k + n] @ txt[row[t]])
            k += n
        return out

    def texts(self, items: Sequence[Any]) -> list[str]:
        return [self.options.get("text_prefix", "") + (it.prompt or "") for it in items]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_encoder"] = None
        return state


@register_metric
class CLIPScore(_DualMetric):
    """CLIPScore per frame (2.5 * max(cos, 0)), averaged over frames."""

    reward_kind = "clipscore"  # which differentiable path reward() takes (reward.py)

    name = "clipscore"
    version = "1"
    needs_prompt = True
    fields = (ScoreField("clipscore", 0.0, 2.5, True, "mean over frames of 2.5*max(cos, 0)"),
              ScoreField("clip_cosine", -1.0, 1.0, True, "mean frame-prompt cosine"))
    description = "CLIPScore (Hessel et al.) of the prompt against each frame, averaged."
    reference = "CLIPScore (Hessel et al., EMNLP 2021)"
    default_options = {**COMMON_OPTIONS, "model": "clip-vit-l-14", "text_prefix": "",
                       "weight": 2.5}

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        w = float(self.options["weight"])
        return [{"clipscore": float(np.mean(w * np.maximum(c, 0.0))),
                 "clip_cosine": float(np.mean(c))}
                for c in self.frame_cosines(frames, self.texts(items))]


@register_metric
class SigLIPScore(_DualMetric):
    """SigLIP match probability and cosine, averaged over frames."""

    reward_kind = "siglip"  # which differentiable path reward() takes (reward.py)

    name = "siglip_score"
    version = "1"
    needs_prompt = True
    fields = (ScoreField("siglip_prob", 0.0, 1.0, True,
                         "mean over frames of sigmoid(scale*cos + bias)"),
              ScoreField("siglip_cosine", -1.0, 1.0, True, "mean frame-prompt cosine"))
    description = "SigLIP's calibrated frame-prompt match probability, averaged over frames."
    reference = "SigLIP (Zhai et al., ICCV 2023)"
    default_options = {**COMMON_OPTIONS, "model": "siglip-so400m", "text_prefix": ""}

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        enc = self.encoder()
        if not enc.is_siglip:
            raise MetricError(f"siglip_score needs a SigLIP model, got {self.checkpoint.name}")
        scale, bias = enc.logit_scale, enc.logit_bias
        out = []
        for c in self.frame_cosines(frames, self.texts(items)):
            prob = 1.0 / (1.0 + np.exp(-(scale * c + bias)))
            out.append({"siglip_prob": float(np.mean(prob)), "siglip_cosine": float(np.mean(c))})
        return out


@register_metric
class PickScore(_DualMetric):
    """PickScore: learned logit scale times the frame-prompt cosine, averaged."""

    reward_kind = "pickscore"  # which differentiable path reward() takes (reward.py)

    name = "pickscore"
    version = "1"
    needs_prompt = True
    fields = (ScoreField("pickscore", None, None, True, "mean over frames of scale*cos"),
              ScoreField("pickscore_cosine", -1.0, 1.0, True, "mean frame-prompt cosine"))
    description = "PickScore (human-preference CLIP-H) of the prompt against each frame."
    reference = "PickScore (Kirstain et al., NeurIPS 2023)"
    default_options = {**COMMON_OPTIONS, "model": "pickscore", "text_prefix": ""}

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        scale = self.encoder().logit_scale
        return [{"pickscore": float(np.mean(scale * c)), "pickscore_cosine": float(np.mean(c))}
                for c in self.frame_cosines(frames, self.texts(items))]


@register_metric
class BlipITM(ModelMetric):
    """BLIP image-text matching probability and ITC cosine, averaged over frames."""

    reward_kind = "blip_itm"  # which differentiable path reward() takes (reward.py)

    name = "blip_itm"
    version = "1"
    needs_prompt = True
    fields = (ScoreField("blip_itm", 0.0, 1.0, True, "mean over frames of P(match)"),
              ScoreField("blip_itc_cosine", -1.0, 1.0, True, "mean frame-prompt ITC cosine"))
    description = "BLIP ITM head's match probability of the prompt with each frame."
    reference = "BLIP (Li et al., ICML 2022)"
    default_options = {**COMMON_OPTIONS, "model": "blip-itm-large"}

    _scorer = None

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        if self._scorer is None:
            from ...models.embed import MatchScorer

            self._scorer = MatchScorer(self.backbone())
        flat, texts = [], []
        for fr, it in zip(frames, items):
            flat.extend(fr.array)
            texts.extend([it.prompt or ""] * len(fr))
        probs, coss = self._scorer.score(flat, texts, timer=self.timed)
        out, k = [], 0
        for fr in frames:
            n = len(fr)
            out.append({"blip_itm": float(np.mean(probs[k:k + n])),
                        "blip_itc_cosine": float(np.mean(coss[k:k + n]))})
            k += n
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_scorer"] = None
        return state


def temporal_consistency(emb: np.ndarray) -> tuple[float, float]:
    """(mean cosine of consecutive rows, VBench-style first+previous average) of
    L2-normalised embeddings (T, D), T >= 2."""
    if len(emb) < 2:
        raise MetricError("temporal consistency needs at least 2 frames")
    consecutive = np.sum(emb[1:] * emb[:-1], axis=1)
    to_first = emb[1:] @ emb[0]
    return float(consecutive.mean()), float(((to_first + consecutive) / 2.0).mean())


@register_metric
class CLIPTemporal(_DualMetric):
    """Frame-to-frame consistency of image embeddings (no prompt)."""

    reward_kind = "clip_temporal"  # which differentiable path reward() takes (reward.py)

    name = "clip_temporal"
    version = "1"
    min_frames = 2
    fields = (ScoreField("clip_temporal", -1.0, 1.0, True,
                         "mean cosine of consecutive frames' embeddings"),
              ScoreField("clip_temporal_vbench", -1.0, 1.0, True,
                         "VBench consistency: mean of (cos to first + cos to previous) / 2"))
    description = "Consistency of consecutive frames' CLIP (or SigLIP) embeddings."
    reference = "VBench subject/background consistency (Huang et al., CVPR 2024)"
    default_options = {**COMMON_OPTIONS, "model": "clip-vit-l-14", "frames": 16}

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        enc = self.encoder()
        flat = [f for fr in frames for f in fr.array]
        emb = enc.image_embeds(flat, timer=self.timed).numpy()
        out, k = [], 0
        for fr in frames:
            n = len(fr)
            c, v = temporal_consistency(emb[k:k + n])
            out.append({"clip_temporal": c, "clip_temporal_vbench": v})
            k += n
        return out
