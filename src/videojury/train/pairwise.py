"""AIGV-Assessor's third stage: pairwise comparison with shared weights and a judge network.

AIGV-Assessor (Wang et al., 2025, section 4.2) fine-tunes its evaluator on
preference pairs: both videos of a pair go through the same network in the
same batch, and a judge network "inspired by LPIPS" decides from their
learned features which is better, trained with cross-entropy. The paper
gives no more detail; this is our reading of it:

* the features are the final hidden states at each video's anchor (the
  token before the level word of the pair's dimension, the same state the
  regression head reads), unit-normalised per video as LPIPS normalises
  each layer's activations;
* the judge looks at their difference ``d = phi(h_a) - phi(h_b)`` through an
  MLP ``g`` and is made antisymmetric, ``u = g(d) - g(-d) + w (s_a - s_b)``,
  so swapping the two videos flips its decision exactly; ``s`` is the
  dimension's regression head (MOS/scale) and ``w`` starts at
  ``judge.score_weight`` with ``g``'s output layer at zero, so the untrained
  judge decides as the regression scores do;
* P(a better) = sigmoid(u), and the loss is the two-class cross-entropy
  against 1 (a preferred), 0 (b) or 0.5 (a tie: both classes equally
  likely), i.e. binary cross-entropy with logits on ``u``;
* pair accuracy counts the pairs with a winner (ties excluded, as the
  comparison accuracy of AIGV-Assessor's Table 3 is defined on preferences)
  and is reported for the judge (``pair_acc``) and for the plain comparison
  of the regression scores (``pair_acc_scores``).

The judge itself (:class:`~.model.Judge`) lives with the evaluator model.
One judge per target, so a multi-dimension evaluator (AIGV-Assessor's four
heads) compares each dimension with its own judge.
"""

from __future__ import annotations

from typing import Any

import torch

from .model import collate

__all__ = ["PairDataset", "collate_pairs", "pair_loss", "pair_logits"]


class PairDataset:
    """Pair index -> the two encoded videos (same dimension prompt, no answer)."""

    def __init__(self, pairs, encoder, frames, cache: bool = False) -> None:
        self.pairs = list(pairs)
        self.encoder = encoder
        self.frames = frames
        self.cache = cache
        self._cache: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.pairs)

    def _one(self, video: str, target: int, prompt: str | None):
        before, _ = self.encoder.mos_texts(target, prompt, None, False)
        enc = self.encoder.encode(self.frames(video), before, before)
        enc.target = target
        return enc

    def __getitem__(self, i: int):
        hit = self._cache.get(i)
        if hit is not None:
            return hit
        p = self.pairs[i]
        a = self._one(p.video_a, p.target, p.prompt)
        b = self._one(p.video_b, p.target, p.prompt)
        a.index = b.index = i
        out = (a, b, p.target, p.label, i)
        if self.cache:
            self._cache[i] = out
        return out


def collate_pairs(batch, pad_id: int, side: str = "left") -> dict[str, Any]:
    """Rows ``a0, b0, a1, b1, ...`` in one padded batch, plus each pair's target and label."""
    rows = [e for a, b, *_ in batch for e in (a, b)]
    out = collate(rows, pad_id, side)
    out["pair_target"] = torch.tensor([t for _, _, t, _, _ in batch], dtype=torch.long)
    out["pair_label"] = torch.tensor([lab for _, _, _, lab, _ in batch], dtype=torch.float32)
    out["pair_index"] = torch.tensor([i for *_, i in batch], dtype=torch.long)
    return out


def pair_logits(model, batch: dict[str, Any]):
    """(judge logits (B,), regression-score differences (B,)) for a batch of pairs; without
    judges (no pairwise stage) the logits are the score differences."""
    out = model(batch["inputs"], batch["anchors"], want_hidden=True)
    h = out["hidden"]
    tgt = batch["pair_target"].to(h.device)
    idx = tgt.repeat_interleave(2)[:, None]
    s = out["preds"].gather(1, idx).squeeze(1)
    h_a, h_b, s_a, s_b = h[0::2], h[1::2], s[0::2], s[1::2]
    judges = getattr(getattr(model, "module", model), "judges", None)  # DDP wraps the evaluator
    if judges is None:
        return s_a - s_b, s_a - s_b
    names = list(judges.keys())
    u = torch.zeros_like(s_a)
    for t in tgt.unique().tolist():
        m = tgt == t
        u[m] = judges[names[t]](h_a[m], h_b[m], s_a[m], s_b[m])
    return u, s_a - s_b


def pair_loss(model, batch: dict[str, Any]) -> tuple[Any, dict[str, float]]:
    """Cross-entropy of the judge on a batch of pairs (ties: target 0.5)."""
    import torch.nn.functional as F

    u, _ = pair_logits(model, batch)
    y = batch["pair_label"].to(u.device, u.dtype)
    ce = F.binary_cross_entropy_with_logits(u, y)
    return ce, {"pair_ce": float(ce.detach())}
