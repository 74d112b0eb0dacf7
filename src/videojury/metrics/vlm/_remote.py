"""The LMM metrics' side of hosted models (``model=openai:NAME``).

What each metric asks and how it reads the answer; the protocol, retries and
probability readers are :mod:`videojury.models.remote` (documented there).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...models.remote import (
    Completion,
    RemoteItemError,
    digit_soft_score,
    encode_frames,
    level_probabilities,
    remote_name,
    word_probability,
)
from .prompts import LEVEL_VALUES, LEVEL_WORDS, REMOTE_FRAMES_NOTE, REMOTE_LEVEL_TEMPLATE, fill


def request_body(metric: Any, frames: Any, text: str, max_tokens: int) -> dict[str, Any]:
    """The chat-completions request for one video and one question."""
    o = metric.options
    images = encode_frames(frames, o["image_format"], o["jpeg_quality"])
    parts: list[dict[str, Any]] = [{"type": "text",
                                    "text": fill(REMOTE_FRAMES_NOTE, n=str(len(images)))}]
    for url in images:
        img: dict[str, Any] = {"url": url}
        if o["detail"]:
            img["detail"] = o["detail"]
        parts.append({"type": "image_url", "image_url": img})
    parts.append({"type": "text", "text": text})
    return {"model": remote_name(o["model"]), "messages": [{"role": "user", "content": parts}],
            "max_tokens": int(max_tokens), "temperature": 0, "logprobs": True,
            "top_logprobs": int(o["top_logprobs"])}


def ask(metric: Any, frames: Sequence[Any], texts: Sequence[str], max_tokens: int
        ) -> list[Completion | RemoteItemError]:
    """Ask the metric's hosted model one question per video (see :meth:`ChatClient.complete`)."""
    client = metric.client()
    with metric.timed("preprocess"):
        bodies = [request_body(metric, f, t, max_tokens) for f, t in zip(frames, texts)]
    return client.complete(bodies)


def raise_first(outs: Sequence[Any]) -> list[Completion]:
    """The completions, or the first request error (the executor then goes item by item)."""
    for o in outs:
        if isinstance(o, BaseException):
            raise o
    return list(outs)


def vqascore_batch(metric: Any, frames: Sequence[Any], items: Sequence[Any]
                   ) -> list[dict[str, float]]:
    """VQAScore from a hosted model: P(yes word) of the first answer token."""
    o = metric.options
    texts = [fill(o["template"], prompt=it.prompt or "") for it in items]
    out = []
    for c in raise_first(ask(metric, frames, texts, 1)):
        p_yes = word_probability(c, o["yes"])
        if o["renormalize"]:
            p_no = word_probability(c, o["no"])
            p_yes = p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.5
        out.append({"vqascore": min(1.0, max(0.0, p_yes))})
    return out


def level_batch(metric: Any, frames: Sequence[Any], items: Sequence[Any]
                ) -> list[dict[str, float]]:
    """A level judge from a hosted model: the five level words' first-token probabilities."""
    texts = [fill(REMOTE_LEVEL_TEMPLATE, question=fill(metric.question, prompt=it.prompt or ""),
                  prefix=metric.prefix) for it in items]
    out = []
    for c in raise_first(ask(metric, frames, texts, 1)):
        p, mass = level_probabilities(c, LEVEL_WORDS)
        if p.sum() <= 0:
            said = c.tokens[0].text if c.tokens else c.text
            raise RemoteItemError(f"none of the level words ({', '.join(LEVEL_WORDS)}) is among "
                                  f"the first answer token's {metric.options['top_logprobs']} "
                                  f"alternatives (the answer began with {said!r})")
        p = p / p.sum()
        values = np.asarray(LEVEL_VALUES, dtype=np.float64)
        score = ((p * values).sum() - 1.0) / 4.0 * 100.0
        out.append({metric.score_field: float(min(100.0, max(0.0, score))),
                    metric.level_field: float(values[int(np.argmax(p))]),
                    metric.mass_field: mass})
    return out


def qa_answers(metric: Any, frames: Sequence[Any], items: Sequence[Any]) -> list[dict[str, Any]]:
    """``VideoQA.answer`` records from a hosted model."""
    from ...text import normalize_yes_no

    o = metric.options
    generate = o["mode"] == "generate"
    texts = [fill(o["template"], question=it.question or "") for it in items]
    outs = ask(metric, frames, texts, o["max_new_tokens"] if generate else 1)
    recs = []
    for it, c in zip(items, raise_first(outs)):
        p_yes, p_no = word_probability(c, "yes"), word_probability(c, "no")
        norm = p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.5
        if generate:
            said: str | None = c.text
            ans = normalize_yes_no(c.text)
        else:
            said, ans = None, ("yes" if p_yes >= p_no else "no")
        recs.append({"video": getattr(it, "video", None), "question": getattr(it, "question", None),
                     "text": said, "answer": ans, "p_yes": p_yes, "p_yes_norm": norm})
    return recs


def rationale_records(metric: Any, frames: Sequence[Any], items: Sequence[Any], parse: Any,
                      parse_error: type[Exception]) -> list[dict[str, Any]]:
    """``RationaleJudge.explain`` records from a hosted model (``parse``: the
    rationale module's parser, raising ``parse_error``; passed in, no import cycle)."""
    from .prompts import RATIONALE_AXES

    o = metric.options
    texts = [fill(o["template"], prompt=it.prompt or "") for it in items]
    outs = ask(metric, frames, texts, o["max_new_tokens"])
    recs: list[dict[str, Any]] = []
    for it, c in zip(items, outs):
        rec: dict[str, Any] = {"video": getattr(it, "video", None),
                               "prompt": getattr(it, "prompt", None)}
        if isinstance(c, BaseException):
            rec.update(text=None, error=str(c))
            recs.append(rec)
            continue
        rec["text"] = c.text
        try:
            parsed = parse(c.text)
        except parse_error as exc:
            rec["error"] = str(exc)
        else:
            scores: dict[str, float] = {}
            for axis in RATIONALE_AXES:
                value, pos = parsed[axis]
                scores[f"rationale_{axis}"] = value
                scores[f"rationale_{axis}_soft"] = digit_soft_score(c, pos, value)
            rec["scores"] = scores
        recs.append(rec)
    return recs
