"""Yes/no question answering about a video, for QA accuracy and task accuracy.

Each item's ``question`` (e.g. "Is there a red car?") is put to a video chat
model with an instruction to answer yes or no (``template=``, must contain
``{question}``). From the first answer token's distribution:

* ``qa_p_yes``: P(yes), the full-softmax probability of the answer starting
  with "Yes" or "yes" (both spellings summed: a QA answer may use either);
* ``qa_p_yes_norm``: P(yes) / (P(yes) + P(no)), the same renormalised;
* ``qa_yes``: the normalised answer, 1 for yes and 0 for no.

With ``mode=logits`` (default) the answer is whichever of yes/no is more
probable. With ``mode=generate`` the model writes a short answer greedily
and it is read with :func:`videojury.text.normalize_yes_no`; an
answer that is neither (e.g. "not sure") makes the item an error naming
the text, never a silent no. Compare ``qa_yes`` with the manifest's
``answer`` column for QA accuracy.

The answer text is not a number, so it is not a stored score: in generate
mode ``answer_log=PATH`` appends one JSON line per video (video, question,
answer text, normalised answer, P(yes)), and :meth:`VideoQA.answer` returns
the same records in Python.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import MetricError
from ...text import normalize_yes_no
from ...video import Frames
from ..base import ScoreField, register_metric
from ._common import LMM_OPTIONS, LMMMetric, append_log
from .prompts import QA_TEMPLATE, fill, placeholders


parse_yes_no = normalize_yes_no  # the one parser, videojury.text; kept under its old name


@register_metric
class VideoQA(LMMMetric):
    """Answer the item's yes/no question about the video."""

    name = "qa"
    version = "1"
    needs_question = True
    fields = (
        ScoreField("qa_p_yes", 0.0, 1.0, True, "P(answer starts with Yes/yes), full softmax"),
        ScoreField("qa_p_yes_norm", 0.0, 1.0, True, "P(yes) / (P(yes) + P(no))"),
        ScoreField("qa_yes", 0.0, 1.0, True, "normalised answer: 1 = yes, 0 = no"),
    )
    description = "Yes/no QA about the video: P(yes) and the normalised answer."
    reference = "LOVE task accuracy (AIGVE-60K QA pairs)"
    default_options = {**LMM_OPTIONS, "model": "qwen2.5-vl-7b", "template": QA_TEMPLATE,
                       "mode": "logits", "max_new_tokens": 16, "answer_log": ""}
    runtime_options = LMMMetric.runtime_options | {"answer_log"}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if "question" not in placeholders(self.options["template"]):
            raise MetricError(f"qa: the template must contain {{question}}, e.g. '{QA_TEMPLATE}'")
        if self.options["mode"] not in ("logits", "generate"):
            raise MetricError("qa: mode must be 'logits' or 'generate'")

    def prompts(self, items: Sequence[Any]) -> list[str]:
        """Full prompt texts for ``items``."""
        lmm = self.lmm()
        return [lmm.render(fill(self.options["template"], question=it.question or ""))
                for it in items]

    def _p(self, text: str, lp: np.ndarray, words: tuple[str, str]) -> float:
        ids = {self.lmm().continuation_id(text, w) for w in words}
        return float(sum(np.exp(lp[i]) for i in ids))

    def answer(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, Any]]:
        """Per item: ``text`` (generate mode, else None), ``answer`` ("yes"/"no"/None),
        ``p_yes``, ``p_yes_norm``."""
        if self.remote:  # model=openai:NAME
            from ._remote import qa_answers

            out = qa_answers(self, frames, items)
            self._log(out)
            return out
        lmm = self.lmm()
        texts = self.prompts(items)
        logps = lmm.next_token_logprobs(frames, texts, self.batch_size, timer=self.timed)
        gens = None
        if self.options["mode"] == "generate":
            gens = lmm.generate(frames, texts, self.options["max_new_tokens"], self.batch_size,
                                timer=self.timed)
        out = []
        for i, (text, lp) in enumerate(zip(texts, logps)):
            p_yes = min(1.0, self._p(text, lp, ("Yes", "yes")))
            p_no = min(1.0, self._p(text, lp, ("No", "no")))
            norm = p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.5
            if gens is not None:
                said: str | None = gens[i].text
                ans = parse_yes_no(gens[i].text)
            else:
                said, ans = None, ("yes" if p_yes >= p_no else "no")
            out.append({"video": getattr(items[i], "video", None),
                        "question": getattr(items[i], "question", None), "text": said,
                        "answer": ans, "p_yes": p_yes, "p_yes_norm": norm})
        self._log(out)
        return out

    def _log(self, records: list[dict[str, Any]]) -> None:
        if self.options["mode"] == "generate":
            append_log(self.options["answer_log"], records, self.options["model"])

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        key = lambda it: (getattr(it, "video", None), getattr(it, "question", None))  # noqa: E731
        pending = getattr(self, "_pending", {})
        if len(items) == 1 and key(items[0]) in pending:
            recs = [pending.pop(key(items[0]))]  # answered already in a failed batch
        else:
            recs = self.answer(frames, items)
        bad = [f"{r['video']}: {(r['text'] or '')[:80]!r}" for r in recs if r["answer"] is None]
        if bad:
            if len(recs) > 1:
                # The executor rescores a failed batch item by item; keep the answers
                # so that costs no second generation (and no duplicate log lines).
                self._pending = {key(it): r for it, r in zip(items, recs)}
            raise MetricError("the model's answer is neither yes nor no: " + "; ".join(bad))
        return [{"qa_p_yes": r["p_yes"], "qa_p_yes_norm": r["p_yes_norm"],
                 "qa_yes": 1.0 if r["answer"] == "yes" else 0.0} for r in recs]
