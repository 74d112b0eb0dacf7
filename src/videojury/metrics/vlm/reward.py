"""Differentiable rewards: ``metric.reward(frames, prompts) -> torch.Tensor`` of shape (B,).

The value is the metric's own field (its first, or ``field=``) computed from
float pixels with gradients flowing back to them, for reward fine-tuning and
reward-guided sampling of text-to-video models. Supported: ``clipscore``,
``siglip_score``, ``pickscore``, ``blip_itm``, ``clip_temporal``,
``vqascore`` and the level judges (``level_judge``, ``judge_*``); the
argmax ``*_level`` fields are not differentiable and are refused.

The frames go the scored path's way, in torch: the metric's frame policy
samples the same indices, the decoder's OpenCV resize is applied as weight
matrices, then the processor's resize, crop, normalisation and patch layout
(:mod:`videojury.models.pixels`). For the video chat models the token layout
(video placeholders, grids, timestamps) comes from the processor run on the
frames rounded to uint8, and only its pixel tensor is replaced by the
differentiable one, after a check that the two agree to rounding.

The backbone's parameters are frozen (``requires_grad_(False)``) on the
first reward call, so ``loss.backward()`` fills only the pixels' gradients;
the metric's model is a judge, not a thing being trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Sequence

import numpy as np

from ...errors import MetricError


@dataclass
class Sampled:
    """One clip after the metric's frame policy: float frames and where they came from."""

    x: Any  # torch (T, 3, h, w) in [0, 1]
    indices: np.ndarray
    frame_count: int
    fps: float | None

    def frames(self):
        """The same frames rounded to uint8, as a :class:`~videojury.video.Frames`."""
        from ...models.pixels import to_uint8
        from ...video.decode import MEMORY_PATH, Frames, VideoInfo

        arr = to_uint8(self.x)
        fps = float(self.fps) if self.fps else 0.0
        info = VideoInfo(path=MEMORY_PATH, frame_count=self.frame_count, fps=fps,
                         duration=self.frame_count / fps if fps else 0.0,
                         width=int(arr.shape[2]), height=int(arr.shape[1]), codec="memory")
        ts = self.indices / fps if fps else self.indices.astype(float)
        return Frames(arr, self.indices, ts, info)


def reward_fields(metric: Any) -> list[str]:
    """The fields ``metric.reward`` can return (all but the argmax level fields)."""
    level = getattr(metric, "level_field", None)
    return [f.name for f in metric.fields if f.name != level]


def _sample(metric: Any, clips: Sequence[Any], fps: float | None) -> list[Sampled]:
    from ...models.pixels import policy_frames

    policy = metric.frame_policy()
    if policy.mode == "fps" and not fps:
        raise MetricError(f"{metric.name}: its frames are sampled by time ({policy.describe()}); "
                          "give reward(..., fps=the clips' frame rate)")
    out = []
    for c in clips:
        idx = policy.indices(int(c.shape[0]), float(fps or 0.0))
        out.append(Sampled(policy_frames(c, policy, fps), idx, int(c.shape[0]), fps))
    return out


def _items(prompts: Sequence[str | None]) -> list[Any]:
    return [SimpleNamespace(video=None, prompt=p, question=None) for p in prompts]


def _split(values, sizes: Sequence[int]) -> list:
    out, k = [], 0
    for n in sizes:
        out.append(values[k:k + n])
        k += n
    return out


def _dual_cosines(metric: Any, sampled: Sequence[Sampled], texts: Sequence[str]) -> list:
    torch = _torch()
    enc = metric.encoder()
    img = enc.image_embeds_grad(torch.cat([s.x for s in sampled]) * 255.0)
    uniq = sorted(set(texts))
    txt = enc.text_embeds(uniq, inference=False).to(img.device, img.dtype)
    row = {t: i for i, t in enumerate(uniq)}
    per = _split(img, [len(s.x) for s in sampled])
    return [e @ txt[row[t]] for e, t in zip(per, texts)]


REWARD_KINDS = ("clipscore", "siglip", "pickscore", "clip_temporal", "blip_itm", "vqascore",
                "level_judge")


def values(metric: Any, sampled: Sequence[Sampled], prompts: Sequence[str | None]) -> dict:
    """Field -> (B,) tensor of the metric's differentiable fields."""
    # Dispatch on the class's declared reward_kind (inherited by subclasses, like
    # isinstance), so this module never imports the metric classes that import it.
    kind = getattr(metric, "reward_kind", None)
    torch = _torch()
    items = _items(prompts)
    stack = torch.stack
    if kind == "clipscore":
        w = float(metric.options["weight"])
        cos = _dual_cosines(metric, sampled, metric.texts(items))
        return {"clipscore": stack([(w * c.clamp(min=0)).mean() for c in cos]),
                "clip_cosine": stack([c.mean() for c in cos])}
    if kind == "siglip":
        enc = metric.encoder()
        if not enc.is_siglip:
            raise MetricError(f"siglip_score needs a SigLIP model, got {metric.checkpoint.name}")
        cos = _dual_cosines(metric, sampled, metric.texts(items))
        scale, bias = enc.logit_scale, enc.logit_bias
        return {"siglip_prob": stack([torch.sigmoid(scale * c + bias).mean() for c in cos]),
                "siglip_cosine": stack([c.mean() for c in cos])}
    if kind == "pickscore":
        scale = metric.encoder().logit_scale
        cos = _dual_cosines(metric, sampled, metric.texts(items))
        return {"pickscore": stack([(scale * c).mean() for c in cos]),
                "pickscore_cosine": stack([c.mean() for c in cos])}
    if kind == "clip_temporal":
        enc = metric.encoder()
        emb = enc.image_embeds_grad(torch.cat([s.x for s in sampled]) * 255.0)
        cons, vb = [], []
        for e in _split(emb, [len(s.x) for s in sampled]):
            if len(e) < 2:
                raise MetricError("temporal consistency needs at least 2 frames")
            consecutive = (e[1:] * e[:-1]).sum(dim=1)
            cons.append(consecutive.mean())
            vb.append(((e[1:] @ e[0] + consecutive) / 2.0).mean())
        return {"clip_temporal": stack(cons), "clip_temporal_vbench": stack(vb)}
    if kind == "blip_itm":
        if metric._scorer is None:
            from ...models.embed import MatchScorer

            metric._scorer = MatchScorer(metric.backbone())
        flat = torch.cat([s.x for s in sampled]) * 255.0
        texts = [p or "" for s, p in zip(sampled, prompts) for _ in range(len(s.x))]
        probs, cos = metric._scorer.match_prob_grad(flat, texts)
        sizes = [len(s.x) for s in sampled]
        return {"blip_itm": stack([p.mean() for p in _split(probs, sizes)]),
                "blip_itc_cosine": stack([c.mean() for c in _split(cos, sizes)])}
    if kind == "vqascore":
        lmm = metric.lmm()
        texts = metric.prompts(items)
        logp = lmm.next_token_logprobs_grad([s.x for s in sampled],
                                            [s.frames() for s in sampled], texts)
        out = []
        for text, lp in zip(texts, logp):
            p_yes = lp[lmm.continuation_id(text, metric.options["yes"])].exp()
            if metric.options["renormalize"]:
                p_no = lp[lmm.continuation_id(text, metric.options["no"])].exp()
                p_yes = p_yes / (p_yes + p_no)
            out.append(p_yes.clamp(0.0, 1.0))
        return {"vqascore": stack(out)}
    if kind == "level_judge":
        from .prompts import LEVEL_VALUES

        texts = metric.prompts(items)
        logp = metric.lmm().next_token_logprobs_grad([s.x for s in sampled],
                                                     [s.frames() for s in sampled], texts)
        levels = torch.as_tensor(LEVEL_VALUES, dtype=logp.dtype, device=logp.device)
        out = []
        for text, lp in zip(texts, logp):
            p = torch.softmax(lp[metric.level_ids(text)], dim=-1)
            out.append((((p * levels).sum() - 1.0) / 4.0 * 100.0).clamp(0.0, 100.0))
        return {metric.score_field: stack(out)}
    raise _unsupported(metric)


def _unsupported(metric: Any) -> MetricError:
    return MetricError(f"metric {metric.name} has no differentiable reward; reward() supports "
                       "clipscore, siglip_score, pickscore, blip_itm, clip_temporal, vqascore "
                       "and the level judges")


def supported(metric: Any) -> bool:
    """True when ``metric`` has a differentiable :meth:`reward`."""
    return getattr(metric, "reward_kind", None) in REWARD_KINDS


def run_reward(metric: Any, frames: Any, prompts: str | Sequence[str] | None = None, *,
               fps: float | None = None, field: str | None = None):
    """See :meth:`ModelMetric.reward`."""
    from ...models.pixels import as_clips

    torch = _torch()
    if not supported(metric):
        raise _unsupported(metric)
    if isinstance(prompts, str):
        prompts = [prompts]
    clips = as_clips(frames)
    if prompts is None:
        if metric.needs_prompt:
            raise MetricError(f"{metric.name}: reward needs one prompt per clip")
        prompts = [None] * len(clips)
    prompts = list(prompts)
    if len(prompts) != len(clips):
        raise MetricError(f"{metric.name}: reward got {len(clips)} clips and {len(prompts)} "
                          "prompts; give one prompt per clip")
    allowed = reward_fields(metric)
    name = field or allowed[0]
    if name not in allowed:
        raise MetricError(f"{metric.name}: reward field {name!r} is not one of "
                          f"{', '.join(allowed)}")
    if fps is not None and not (float(fps) > 0):
        raise MetricError(f"{metric.name}: fps must be a positive number, got {fps!r}")
    model = metric.backbone().model
    if any(p.requires_grad for p in model.parameters()):
        model.requires_grad_(False)  # a judge: gradients go to the pixels only
    sampled = _sample(metric, clips, fps)
    out = values(metric, sampled, prompts)[name]
    dtype = clips[0].dtype
    return out.to(dtype if dtype in (torch.float32, torch.float64) else torch.float32)


def _torch():
    import torch

    return torch
