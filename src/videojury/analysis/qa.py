"""QA accuracy against human answers.

Answers on both sides are read with the one yes/no parser,
:func:`videojury.text.normalize_yes_no` (re-exported here); its module
docstring states the rule.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ..text import normalize_yes_no

__all__ = ["normalize_yes_no", "qa_accuracy"]


def qa_accuracy(predicted: Iterable, human: Iterable) -> dict:
    """Accuracy of predicted yes/no answers against human answers.

    Both sides go through :func:`normalize_yes_no`. Items whose *human*
    answer is unparseable cannot be scored and are excluded (counted in
    ``human_unparseable``). Items whose *prediction* is unparseable stay in
    the denominator and count as wrong (``pred_unparseable``); nothing is
    dropped silently. Also returned: ``accuracy_parsed`` over the items
    where both sides parse, and the yes-rate of each side (a metric that
    always says "yes" is easy to spot).
    """
    p = [normalize_yes_no(v) for v in predicted]
    h = [normalize_yes_no(v) for v in human]
    if len(p) != len(h):
        raise ValueError(f"predicted and human differ in length: {len(p)} != {len(h)}")
    pa = pd.Series(p, dtype=object)
    ha = pd.Series(h, dtype=object)
    scorable = ha.notna()
    n = int(scorable.sum())
    correct = int(((pa == ha) & scorable & pa.notna()).sum())
    pred_bad = int((pa.isna() & scorable).sum())
    both = scorable & pa.notna()
    nb = int(both.sum())
    return {
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else float("nan"),
        "accuracy_parsed": correct / nb if nb else float("nan"),
        "pred_unparseable": pred_bad,
        "human_unparseable": int((~scorable).sum()),
        "pred_yes_rate": float((pa[both] == "yes").mean()) if nb else float("nan"),
        "human_yes_rate": float((ha[scorable] == "yes").mean()) if n else float("nan"),
    }
