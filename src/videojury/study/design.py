"""Who sees what, in which order: the schedule of a rating study.

Pure functions of the stimuli and a seed, so a study's schedule can be
rebuilt and checked. Items are dicts ``{"kind", "a", "b", "repeat_of"}``
where ``a`` (and for pairwise ``b``, the right-hand video) are stimulus ids,
``kind`` is ``regular``, ``golden`` or ``repeat`` and ``repeat_of`` is the
position (0-based) of the presentation a repeat repeats.

* **Balanced sharing.** The regular items are shuffled once with the
  study's seed and dealt out in a cycle: rater ``r`` gets the ``M`` items
  from position ``r * M`` on (wrapping), so every item is seen by
  ``floor(N M / T)`` or ``ceil(N M / T)`` raters.
* **Pairs** join only videos of one prompt. With ``d`` comparisons per
  video asked for (default: all pairs of a prompt), the videos of a prompt
  are put in a random cycle and each is paired with its ``1 .. ceil(d/2)``
  cycle neighbours: every video is in the same number of pairs (``2
  ceil(d/2)``, or ``n - 1`` for all pairs) and the graph is connected,
  because the first neighbours already close a cycle through all videos.
* **Order** is shuffled per rater from ``(seed, rater index)``; golden
  items are mixed in; each repeat comes at least ``gap`` items after the
  item it repeats (less only when the list is too short), pairwise repeats
  with the sides swapped. Left and right of a pair are drawn per showing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import InputError

__all__ = ["deal_balanced", "pair_design", "rater_schedule", "REPEAT_GAP"]

REPEAT_GAP = 3


def pair_design(group: Sequence[int], per_video: int | None, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Pairs among the videos of one prompt: all pairs, or a circulant design.

    ``per_video`` is the number of comparisons wanted per video (``None``:
    every pair). Pairs are returned as ``(low id, high id)``, sorted.
    """
    ids = list(group)
    n = len(ids)
    if n < 2:
        return []
    if per_video is None or per_video >= n - 1:
        return [(ids[i], ids[j]) for i in range(n) for j in range(i + 1, n)]
    cyc = [ids[k] for k in rng.permutation(n)]
    pairs = set()
    for off in range(1, math.ceil(per_video / 2) + 1):
        for i in range(n):
            u, v = cyc[i], cyc[(i + off) % n]
            pairs.add((min(u, v), max(u, v)))
    return sorted(pairs)


def deal_balanced(n_items: int, n_raters: int, per_rater: int | None, seed: int) -> list[list[int]]:
    """Item indices for each rater: all of them, or ``per_rater`` each, dealt evenly."""
    if per_rater is None or per_rater >= n_items:
        return [list(range(n_items)) for _ in range(n_raters)]
    order = np.random.default_rng([seed, 0x5EED]).permutation(n_items)
    return [sorted(int(order[(r * per_rater + j) % n_items]) for j in range(per_rater))
            for r in range(n_raters)]


def rater_schedule(
    regular: Sequence[tuple[int, ...]],
    golden: Sequence[tuple[int, ...]],
    *,
    protocol: str,
    rater_index: int,
    seed: int,
    n_golden: int,
    n_repeats: int,
    gap: int = REPEAT_GAP,
) -> list[dict]:
    """The ordered presentations of one rater.

    ``regular`` and ``golden`` are the rater's stimuli: ``(video,)`` for ACR,
    ``(video, video)`` for pairwise. ``n_golden`` golden items are drawn
    from ``golden``, ``n_repeats`` of the regular ones are shown twice.
    """
    rng = np.random.default_rng([seed, 1 + rater_index])
    if n_golden > len(golden):
        raise InputError(f"--golden {n_golden} asks for more golden items than the study has ({len(golden)})")
    if n_repeats > len(regular):
        raise InputError(f"--repeats {n_repeats} is more than the {len(regular)} items each rater sees")
    chosen_gold = [golden[int(k)] for k in rng.choice(len(golden), size=n_golden, replace=False)] if n_golden else []
    pool = [("regular", s) for s in regular] + [("golden", s) for s in chosen_gold]
    order = rng.permutation(len(pool))
    items: list[dict] = []
    for k in order:
        kind, stim = pool[int(k)]
        items.append(_item(kind, stim, protocol, rng))
    if n_repeats:
        reg_pos = [i for i, it in enumerate(items) if it["kind"] == "regular"]
        roomy = [i for i in reg_pos if i + 1 + gap <= len(items)]
        if len(roomy) >= n_repeats:  # originals early enough to leave `gap` items before the repeat
            reg_pos = roomy
        picks = sorted(int(p) for p in rng.choice(reg_pos, size=n_repeats, replace=False))
        for orig in picks:
            src = items[orig]
            # Positions shift as repeats go in; find the original by identity.
            at = next(i for i, it in enumerate(items) if it is src)
            lo = min(at + 1 + gap, len(items))
            q = int(rng.integers(lo, len(items) + 1))
            rep = {"kind": "repeat", "a": src["a"], "b": src["b"], "repeat_of": src}
            if protocol == "pairwise":
                rep["a"], rep["b"] = src["b"], src["a"]
            items.insert(q, rep)
    for it in items:
        if it["repeat_of"] is not None:
            it["repeat_of"] = next(i for i, x in enumerate(items) if x is it["repeat_of"])
    return items


def _item(kind: str, stim: tuple[int, ...], protocol: str, rng: np.random.Generator) -> dict:
    if protocol == "pairwise":
        a, b = stim
        if rng.random() < 0.5:
            a, b = b, a
        return {"kind": kind, "a": int(a), "b": int(b), "repeat_of": None}
    return {"kind": kind, "a": int(stim[0]), "b": None, "repeat_of": None}
