"""Level judges: a video chat model rates one aspect with a level word (Q-Align / LOVE style).

The model is asked about one aspect of the video (the wording of each
aspect is in :mod:`.prompts`), its answer is started for it with a fixed
sentence ("The quality of the video is"), and the next token's
log-probabilities on the five level words are read. With the level values
bad=1, poor=2, fair=3, good=4, excellent=5 and p the softmax over the five
words' logits (a renormalisation of the full-vocabulary probabilities to
those five tokens, as Q-Align does), the score is the expected level mapped
to 0-100::

    score = (sum_i p_i * level_i - 1) / 4 * 100

so all mass on "excellent" gives 100 and all on "bad" gives 0. The argmax
level (1-5) is reported too.

One metric per aspect is registered (``judge_quality``,
``judge_correspondence``, ``judge_static_quality``,
``judge_temporal_smoothness``, ``judge_dynamic_degree``,
``judge_visual_quality``, ``judge_text_alignment``,
``judge_physical_consistency``), each with fields ``judge_<aspect>``
(0-100) and ``judge_<aspect>_level``, so several aspects can run in one job
on one loaded model. ``level_judge`` takes any wording through
``question=`` and ``prefix=``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import MetricError
from ...video import Frames
from ..base import ScoreField, register_metric
from ._common import LMM_OPTIONS, LMMMetric
from .prompts import DIMENSIONS, LEVEL_VALUES, LEVEL_WORDS, fill, placeholders


def level_score(level_logits: Sequence[float]) -> tuple[float, int, np.ndarray]:
    """Score 0-100, argmax level 1-5 and probabilities from the five level words' logits.

    ``level_logits`` are in :data:`LEVEL_WORDS` order (excellent, good,
    fair, poor, bad); log-probabilities work equally (softmax ignores a
    shared offset). Ties in the argmax go to the better level.
    """
    x = np.asarray(level_logits, dtype=np.float64)
    if x.shape != (len(LEVEL_WORDS),):
        raise ValueError(f"expected {len(LEVEL_WORDS)} logits, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise MetricError("a level word has a non-finite logit")
    p = np.exp(x - x.max())
    p /= p.sum()
    values = np.asarray(LEVEL_VALUES, dtype=np.float64)
    expected = float((p * values).sum())
    score = (expected - 1.0) / 4.0 * 100.0
    return min(100.0, max(0.0, score)), int(values[int(np.argmax(p))]), p


class _LevelJudgeBase(LMMMetric):
    """Shared machinery; subclasses fix the aspect and field names."""

    reward_kind = "level_judge"  # which differentiable path reward() takes (reward.py)

    dimension_key = "quality"
    score_field = "level_score"
    level_field = "level"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        dim = DIMENSIONS.get(self.options.get("dimension") or self.dimension_key)
        if dim is None:
            raise MetricError(f"unknown dimension {self.options.get('dimension')!r}; choose one "
                              f"of {', '.join(DIMENSIONS)}")
        self.question = self.options["question"] or dim.question
        self.prefix = self.options["prefix"] if self.options["prefix"] else dim.prefix
        # The instance needs a prompt exactly when its question mentions one
        # (a custom question= may add or drop it).
        self.needs_prompt = "prompt" in placeholders(self.question)
        if self.remote:
            # a hosted model reports how much probability the five words had
            self.mass_field = f"{self.score_field}_mass"
            self.fields = (*type(self).fields, ScoreField(
                self.mass_field, 0.0, 1.0, True,
                "probability mass of the five level words among the first answer token's "
                "top_logprobs (hosted models)"))

    def prompts(self, items: Sequence[Any]) -> list[str]:
        """Full prompt texts (chat template, question, answer prefix) for ``items``."""
        lmm = self.lmm()
        return [lmm.render(fill(self.question, prompt=it.prompt or ""), prefix=self.prefix)
                for it in items]

    def level_ids(self, text: str) -> list[int]:
        """Token ids of the five level words as continuations of ``text``."""
        lmm = self.lmm()
        sep = "" if (not self.prefix or self.prefix.endswith((" ", "\n"))) else " "
        ids = [lmm.continuation_id(text, sep + w) for w in LEVEL_WORDS]
        if len(set(ids)) != len(ids):
            raise MetricError(f"the tokenizer of {self.checkpoint.name} starts two level words "
                              "with the same token; the level judge cannot tell them apart")
        return ids

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        if self.remote:  # model=openai:NAME
            from ._remote import level_batch

            return level_batch(self, frames, items)
        texts = self.prompts(items)
        logps = self.lmm().next_token_logprobs(frames, texts, self.batch_size,
                                                 timer=self.timed)
        out = []
        for text, lp in zip(texts, logps):
            score, level, _ = level_score(lp[self.level_ids(text)])
            out.append({self.score_field: score, self.level_field: float(level)})
        return out


_JUDGE_OPTIONS = {**LMM_OPTIONS, "model": "internvl3-8b", "question": "", "prefix": ""}


@register_metric
class LevelJudge(_LevelJudgeBase):
    """A level judge on any aspect: ``dimension=`` from the table or ``question=``/``prefix=``."""

    name = "level_judge"
    version = "1"
    fields = (ScoreField("level_score", 0.0, 100.0, True,
                         "expected level (bad=0 ... excellent=100)"),
              ScoreField("level", 1.0, 5.0, True, "most likely level (bad=1 ... excellent=5)"))
    description = "Q-Align-style level judge on a chosen aspect (dimension=, question=, prefix=)."
    reference = "Q-Align (Wu et al., ICML 2024); LOVE (2025)"
    default_options = {**_JUDGE_OPTIONS, "dimension": "quality"}


def _make_judge(key: str) -> type[_LevelJudgeBase]:
    dim = DIMENSIONS[key]
    name = f"judge_{key}"
    attrs = {
        "__doc__": f"Level judge of {dim.description} ({dim.source}).",
        "__module__": __name__,
        "name": name,
        "version": "1",
        "dimension_key": key,
        "score_field": name,
        "level_field": f"{name}_level",
        "needs_prompt": dim.needs_prompt,
        "fields": (ScoreField(name, 0.0, 100.0, True,
                              f"{dim.description}: expected level, bad=0 ... excellent=100"),
                   ScoreField(f"{name}_level", 1.0, 5.0, True,
                              "most likely level (bad=1 ... excellent=5)")),
        "description": f"Level judge: {dim.description} ({dim.source}).",
        "reference": dim.source,
        "default_options": dict(_JUDGE_OPTIONS),
    }
    cls = type("Judge" + "".join(p.title() for p in key.split("_")), (_LevelJudgeBase,), attrs)
    return register_metric(cls)


JUDGES = {key: _make_judge(key) for key in DIMENSIONS}
globals().update({cls.__name__: cls for cls in JUDGES.values()})
