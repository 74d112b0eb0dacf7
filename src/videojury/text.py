"""The one yes/no parser: free-text answers to ``"yes"``, ``"no"`` or ``None``.

The rule (:func:`normalize_yes_no`), applied to a lower-cased answer with
surrounding whitespace, quotes, markdown emphasis and an ``Answer:`` label
removed:

1. If the answer *starts* with an answer word it decides: ``yes``, ``yeah``,
   ``yep``, ``yup``, ``true``, ``correct`` mean yes; ``no``, ``nope``,
   ``false``, ``incorrect`` mean no; a lone ``y`` or ``n`` (the whole answer)
   also counts. "Yes, the cat is ...", "No." and "**No**" are read here.
2. Otherwise the whole words ``yes`` and ``no`` are looked for anywhere
   (word boundaries, so "yesterday", "eyes", "nothing", "not", "know",
   "none" and "snow" never count). Exactly one of them present decides;
   both present is ambiguous, and an answer that echoes the options
   ("yes or no", "yes/no") is ambiguous wherever it occurs.
3. Anything else - empty, ambiguous, "not sure", "The video does not show a
   cat." - is unparseable and returns ``None``.

LOVE's evaluation maps any answer *containing* "yes" to Yes and otherwise
any containing "no" to No; by substring that reads "eyes" as Yes and
"nothing"/"not"/"know" as No. We prefer to count an answer as unparseable
than to guess: negations without the word "no" are not read as No.
"""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["normalize_yes_no", "yes_no_int"]

_YES = {"yes", "yeah", "yep", "yup", "true", "correct"}
_NO = {"no", "nope", "false", "incorrect"}
_LEAD = re.compile(r"^[\s\"'`*_#>\-\(\[\{.:,;!]*")
_LABEL = re.compile(r"^(final\s+answer|answer|a|assistant|response)\s*[:\-]\s*")
_FIRST_WORD = re.compile(r"^([a-z]+)(?![a-z0-9'])")
_WORD_YES = re.compile(r"(?<![a-z0-9'])yes(?![a-z0-9'])")
_WORD_NO = re.compile(r"(?<![a-z0-9'])no(?![a-z0-9'\-])")
_BOTH = re.compile(r"(?<![a-z])(yes\s*(/|or|\|)\s*no|no\s*(/|or|\|)\s*yes)(?![a-z])")


def normalize_yes_no(text) -> str | None:
    """Map a free-text answer to ``"yes"``, ``"no"`` or ``None`` (unparseable).

    Robust to case, punctuation, leading whitespace, quotes and markdown,
    "Answer:" labels, "Yes, ..." and "No." forms; never matches inside a
    word ("yesterday", "nothing", "not"). Booleans map directly; ``None``,
    NaN and any other non-text value return ``None``. See the module
    docstring for the full rule.
    """
    if isinstance(text, (bool, np.bool_)):
        return "yes" if text else "no"
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    if not isinstance(text, str):
        return None
    t = text.strip().lower()
    # Strip leading decoration and an "Answer:" label, possibly repeated.
    for _ in range(3):
        t = _LEAD.sub("", t)
        t2 = _LABEL.sub("", t)
        if t2 == t:
            break
        t = t2
    t = _LEAD.sub("", t)
    if not t or _BOTH.search(t):
        # "yes or no" / "yes/no" echoes the options instead of answering.
        return None
    bare = re.sub(r"[^a-z]", "", t)
    if bare in ("y", "n") and len(t) <= 3:
        return "yes" if bare == "y" else "no"
    m = _FIRST_WORD.match(t)
    if m:
        w = m.group(1)
        if w in _YES:
            return "yes"
        if w in _NO:
            # "no one"/"nobody" as a first word would already be excluded by
            # the word boundary; "no." / "no," / "no " all land here.
            return "no"
    has_yes = _WORD_YES.search(t) is not None
    has_no = _WORD_NO.search(t) is not None
    if has_yes and not has_no:
        return "yes"
    if has_no and not has_yes:
        return "no"
    return None


def yes_no_int(text) -> int:
    """``1`` for yes, ``0`` for no, ``-1`` for unparseable (see :func:`normalize_yes_no`)."""
    return {"yes": 1, "no": 0}.get(normalize_yes_no(text) or "", -1)
