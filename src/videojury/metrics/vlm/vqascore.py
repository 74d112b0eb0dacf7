"""VQAScore for video: the probability a video chat model answers "Yes".

Lin et al. (ECCV 2024, t2v_metrics) score a text-visual pair by asking the
model 'Does this figure show "{text}"? Please answer yes or no.' and reading
P("Yes") as the first token of the answer, from the full softmax over the
vocabulary. Here the question is about a video (template below, overridable
with ``template=``; it must contain ``{prompt}``), the video goes in as the
checkpoint's own video input (Qwen: 2 fps under a pixel budget; InternVL and
LOVE-style: 8 uniform frames at 448x448), and the answer token is read right
after the assistant turn opens. ``renormalize=true`` reports
P(Yes) / (P(Yes) + P(No)) instead, which ignores mass the model puts on
other tokens (useful for chatty models that start with "The" or "Sure").

``preset=t2v_metrics`` computes VQAScore as t2v_metrics 3.0 does on Qwen2-VL /
Qwen2.5-VL (its question, qwen-vl-utils' frames and sizes, the processor's
default fps, ``generate``'s processed scores): see :mod:`.t2v_preset`. The
default (``preset=`` empty) keys and scores as before the option existed.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from ...errors import MetricError
from ...video import FramePolicy, Frames
from ..base import ScoreField, register_metric
from ._common import LMM_OPTIONS, LMMMetric
from .prompts import VQASCORE_TEMPLATE, fill, placeholders


@register_metric
class VQAScore(LMMMetric):
    """P("Yes") to 'Does this video show "{prompt}"?' from a video chat model."""

    reward_kind = "vqascore"  # which differentiable path reward() takes (reward.py)

    name = "vqascore"
    version = "1"
    needs_prompt = True
    fields = (ScoreField("vqascore", 0.0, 1.0, True,
                         "probability that the first answer token is 'Yes'"),)
    description = "VQAScore: P(Yes | video, 'Does this video show \"{prompt}\"?')."
    reference = "VQAScore (Lin et al., ECCV 2024), t2v_metrics"
    default_options = {**LMM_OPTIONS, "model": "qwen2.5-vl-7b", "template": VQASCORE_TEMPLATE,
                       "renormalize": False, "yes": "Yes", "no": "No", "preset": ""}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if "prompt" not in placeholders(self.options["template"]):
            raise MetricError("vqascore: the template must contain {prompt}, e.g. "
                              f"'{VQASCORE_TEMPLATE}'")
        from .t2v_preset import check_options

        check_options(self, self.default_options)

    @property
    def options_key(self) -> str:
        key = super().options_key
        if self.options.get("preset"):
            return key
        # no preset: keyed as before the option existed
        keyed = {k: v for k, v in json.loads(key).items() if k != "preset"}
        return json.dumps(keyed, sort_keys=True, separators=(",", ":"))

    def frame_policy(self) -> FramePolicy:
        if self.options.get("preset"):
            from .t2v_preset import frame_policy

            return frame_policy(self)
        return super().frame_policy()

    def reward(self, frames: Any, prompts: Any = None, *, fps: float | None = None,
               field: str | None = None):
        if self.options.get("preset"):
            raise MetricError("vqascore: preset=t2v_metrics has no reward() path (its "
                              "preprocessing runs on uint8 frames); use the default vqascore")
        return super().reward(frames, prompts, fps=fps, field=field)

    def prompts(self, items: Sequence[Any]) -> list[str]:
        """The full prompt texts (chat template applied) this metric sends for ``items``."""
        lmm = self.lmm()
        return [lmm.render(fill(self.options["template"], prompt=it.prompt or ""))
                for it in items]

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        if self.remote:  # model=openai:NAME
            from ._remote import vqascore_batch

            return vqascore_batch(self, frames, items)
        if self.options.get("preset"):
            from .t2v_preset import score_items

            return score_items(self, list(frames), list(items))
        lmm = self.lmm()
        texts = self.prompts(items)
        logps = lmm.next_token_logprobs(frames, texts, self.batch_size,
                                                 timer=self.timed)
        out = []
        for text, lp in zip(texts, logps):
            p_yes = float(np.exp(lp[lmm.continuation_id(text, self.options["yes"])]))
            if self.options["renormalize"]:
                p_no = float(np.exp(lp[lmm.continuation_id(text, self.options["no"])]))
                p_yes = p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.5
            out.append({"vqascore": min(1.0, max(0.0, p_yes))})
        return out
