"""Rationale judge (VideoScore2 style): explain first, then an integer score per axis.

The model is asked (template in :mod:`.prompts`, ``template=`` to change,
must contain ``{prompt}``) to explain briefly and then score visual
quality, text alignment and physical / common-sense consistency as integers
1-5. It answers greedily (deterministic) and :func:`parse_rationale` reads
the three scores back, tolerant of case, spacing, markdown, the order of the
axes, "4/5" or "4 out of 5", and the axis names VideoScore2 and similar
judges use ("text-to-video alignment", "physical/common-sense
consistency", ...). When an axis is mentioned several times the last score
counts (judges restate a summary at the end). An answer missing any axis is
an error for that video, recorded with the text the model wrote, never a
zero.

Next to each integer, ``*_soft`` is the expected digit read from the
distribution of the token that wrote it: sum_k k * p(k) over the digits 1-5,
p renormalised to them. This is not what VideoScore2's released float
inference returns: its ``eval/eval_methods/vs2_float.py`` samples at
temperature 0.7 and reports argmax_k(p(k)) * max_k p(k) / sum_k p(k) (the
most probable digit times its renormalised probability, so at most the
integer, and 5 * 0.5 = 2.5 for an even split between 4 and 5). The expected
digit is the variant that repository defines beside it and leaves unused.
When the score was not written as a lone digit token (e.g. "3.5"), the soft
score equals the value written.

``rationale_judge`` uses its own prompt and parser; VideoScore2's released
inference (its prompt, frames and rules) is the ``videoscore2`` metric in
:mod:`.videoscore`, the released weighted number ``videoscore2_prob``.

The rationale text itself is not a number and so is not stored as a score;
``rationale_log=PATH`` appends one JSON line per video (video, prompt, text,
scores or error) to PATH, and :meth:`RationaleJudge.explain` returns it in
Python.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from ...errors import MetricError
from ...video import Frames
from ..base import ScoreField, register_metric
from ._common import LMM_OPTIONS, LMMMetric, append_log
from .prompts import RATIONALE_AXES, RATIONALE_TEMPLATE, fill, placeholders

_NUM = r"(?P<num>[0-9]+(?:\.[0-9]+)?)"
_TAIL = r"(?:\s*(?:/\s*5(?:\.0)?|out\s+of\s+5|of\s+5))?"


def _axis_pattern(aliases: Sequence[str]) -> re.Pattern:
    names = sorted(aliases, key=len, reverse=True)
    alt = "|".join(re.escape(a).replace(r"\ ", r"\s+").replace(r"\-", r"[\s\-]?")
                   for a in names)
    # name, optional markdown and the word "score", a separator (":", "=", "-",
    # "is", "of", or just spaces), optional markdown / brackets, the number.
    return re.compile(
        r"(?<![a-z0-9])(?:" + alt + r")(?![a-z])[\s*_#`]*(?:\(\s*1\s*-\s*5\s*\)\s*)?"
        r"(?:score|rating)?[\s*_`]*(?:[:=\-\u2013\u2014]|\bis\b|\bof\b)?[\s*_`\[(]*"
        + _NUM + r"(?![0-9])" + _TAIL, re.IGNORECASE)


_PATTERNS = {axis: _axis_pattern(aliases) for axis, (_, aliases) in RATIONALE_AXES.items()}


class RationaleParseError(MetricError):
    """The judge's answer does not give a 1-5 score for every axis."""


def parse_rationale(text: str) -> dict[str, tuple[float, int]]:
    """Scores in a judge's answer: ``{axis: (value, position of its first digit)}``.

    Every axis in :data:`~.prompts.RATIONALE_AXES` must be found with a
    value in [1, 5]; otherwise :class:`RationaleParseError` says which
    axes are missing and quotes the start of the answer.
    """
    found: dict[str, tuple[float, int]] = {}
    claimed: list[tuple[int, int]] = []  # spans already used by a longer axis name
    for axis in sorted(_PATTERNS, key=lambda a: -max(len(x) for x in RATIONALE_AXES[a][1])):
        best = None
        for m in _PATTERNS[axis].finditer(text):
            value = float(m.group("num"))
            pos = m.start("num")
            if not 1.0 <= value <= 5.0 or any(s <= pos < e for s, e in claimed):
                continue
            best = (value, pos, m.span("num"))
        if best is not None:
            found[axis] = (best[0], best[1])
            claimed.append(best[2])
    missing = [RATIONALE_AXES[a][0] for a in RATIONALE_AXES if a not in found]
    if missing:
        snippet = " ".join(text.split())[:160]
        raise RationaleParseError(f"could not read a 1-5 score for {', '.join(missing)} in the "
                                  f"judge's answer: {snippet!r}")
    return found


def soft_scores(parsed: dict[str, tuple[float, int]], generation) -> dict[str, float]:
    """Probability-weighted score per axis from the digit distributions of ``generation``."""
    from ...models.lmm import expected_digit

    out = {}
    for axis, (value, pos) in parsed.items():
        soft = value
        step = generation.step_at(pos)
        lp = generation.digit_logprobs.get(step) if step is not None else None
        # Only when the token at that place is the lone digit that was written.
        if lp is not None and value.is_integer() and int(lp.argmax()) + 1 == int(value):
            soft = expected_digit(lp)
        out[axis] = soft
    return out


@register_metric
class RationaleJudge(LMMMetric):
    """Greedy rationale plus integer 1-5 scores on three axes, with soft scores."""

    name = "rationale_judge"
    version = "1"
    needs_prompt = True
    fields = tuple(
        f for axis, (label, _) in RATIONALE_AXES.items() for f in (
            ScoreField(f"rationale_{axis}", 1.0, 5.0, True, f"{label}: integer 1-5 as written"),
            ScoreField(f"rationale_{axis}_soft", 1.0, 5.0, True,
                       f"{label}: expected digit, sum k*p(k) over 1-5 renormalised "
                       "(not VideoScore2's argmax*p)")))
    description = "VideoScore2-style judge: rationale, then 1-5 per axis (+ soft scores)."
    reference = "VideoScore2 (He et al., 2025)"
    default_options = {**LMM_OPTIONS, "model": "videoscore2", "template": RATIONALE_TEMPLATE,
                       "max_new_tokens": 512, "rationale_log": ""}
    runtime_options = LMMMetric.runtime_options | {"rationale_log"}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if "prompt" not in placeholders(self.options["template"]):
            raise MetricError("rationale_judge: the template must contain {prompt}")
        if self.options["max_new_tokens"] < 1:
            raise MetricError("rationale_judge: max_new_tokens must be >= 1")

    def prompts(self, items: Sequence[Any]) -> list[str]:
        """Full prompt texts for ``items``."""
        lmm = self.lmm()
        return [lmm.render(fill(self.options["template"], prompt=it.prompt or ""))
                for it in items]

    def explain(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, Any]]:
        """Per item: the answer ``text``, ``scores`` (fields) or ``error`` (message)."""
        if self.remote:  # model=openai:NAME
            from ._remote import rationale_records

            out = rationale_records(self, frames, items, parse_rationale, RationaleParseError)
            self._log(out)
            return out
        texts = self.prompts(items)
        gens = self.lmm().generate(frames, texts, self.options["max_new_tokens"],
                                   self.batch_size, timer=self.timed)
        out: list[dict[str, Any]] = []
        for item, g in zip(items, gens):
            rec: dict[str, Any] = {"video": getattr(item, "video", None),
                                   "prompt": getattr(item, "prompt", None), "text": g.text}
            try:
                parsed = parse_rationale(g.text)
                soft = soft_scores(parsed, g)
                scores: dict[str, float] = {}
                for axis in RATIONALE_AXES:
                    scores[f"rationale_{axis}"] = parsed[axis][0]
                    scores[f"rationale_{axis}_soft"] = soft[axis]
                rec["scores"] = scores
            except RationaleParseError as exc:
                rec["error"] = str(exc)
            out.append(rec)
        self._log(out)
        return out

    def _log(self, records: list[dict[str, Any]]) -> None:
        append_log(self.options["rationale_log"], records, self.options["model"])

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        key = lambda it: (getattr(it, "video", None), getattr(it, "prompt", None))  # noqa: E731
        pending = getattr(self, "_pending", {})
        if len(items) == 1 and key(items[0]) in pending:
            recs = [pending.pop(key(items[0]))]  # answered already in a failed batch
        else:
            recs = self.explain(frames, items)
        errors = [r for r in recs if "error" in r]
        if errors:
            if len(recs) == 1:
                raise RationaleParseError(errors[0]["error"])
            # One bad answer must not cost the batch: the executor rescores the
            # items one by one when a batch raises; keep the answers so that
            # costs no second generation.
            self._pending = {key(it): r for it, r in zip(items, recs)}
            raise MetricError(f"{len(errors)} of {len(recs)} answers could not be parsed")
        return [r["scores"] for r in recs]
