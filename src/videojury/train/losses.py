"""Training losses: L1 + PLCC + pairwise rank on the regression heads, cross-entropy on text,
and the pair judge's cross-entropy (:mod:`.pairwise`).

Pure functions of tensors and the ``loss`` section of the configuration; the
loop calls :func:`stage_loss` once per micro-batch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["pearson_loss", "rank_loss", "stage_loss"]


def pearson_loss(pred, y):
    """1 - Pearson r of a batch (0 when undefined)."""
    import torch

    if pred.numel() < 3:
        return pred.sum() * 0.0
    pc, yc = pred - pred.mean(), y - y.mean()
    den = torch.sqrt((pc * pc).sum() * (yc * yc).sum()) + 1e-8
    return 1.0 - (pc * yc).sum() / den


def rank_loss(pred, y, margin: float):
    """Pairwise hinge: each pair ordered as its MOS says, by at least ``margin``."""
    import torch

    if pred.numel() < 2:
        return pred.sum() * 0.0
    dp = pred[:, None] - pred[None, :]
    dy = torch.sign(y[:, None] - y[None, :])
    mask = dy != 0
    if not mask.any():
        return pred.sum() * 0.0
    return torch.relu(margin - dp * dy)[mask].mean()


def stage_loss(model, kind: str, batch: dict[str, Any], lc) -> tuple[Any, dict[str, float]]:
    """The stage's loss on one micro-batch and its parts (for the log).

    ``model`` is the prepared (DDP) module, so the backward pass averages
    gradients across processes; ``lc`` is the configuration's ``loss`` section.
    """
    import torch.nn.functional as F

    if kind == "pairwise":
        from .pairwise import pair_loss

        return pair_loss(model, batch)
    want_lm = kind != "regression" or lc.lm > 0
    out = model(batch["inputs"], batch["anchors"], want_lm=want_lm)
    parts: dict[str, float] = {}
    if kind != "regression":
        ce = F.cross_entropy(out["lm_logits"], batch["lm_target"], ignore_index=-100)
        parts["ce"] = float(ce.detach())
        return ce, parts
    tgt = batch["target"]
    pred = out["preds"].gather(1, tgt[:, None]).squeeze(1)
    y = batch["value"].to(pred.dtype)
    err = (pred - y).abs()
    l1 = err.mean()
    loss = lc.l1 * l1
    parts["l1"] = float(l1.detach())
    names = getattr(model, "names", None) or getattr(getattr(model, "module", None), "names",
                                                     None) or []  # DDP wraps the evaluator
    if len(names) > 1:  # per-dimension L1 for the log (AIGV-Assessor's four heads)
        for t in tgt.unique().tolist():
            parts[f"l1_{names[t]}"] = float(err[tgt == t].mean().detach())
    if lc.plcc > 0 or lc.rank > 0:
        pl, rk = [], []
        for t in tgt.unique():
            m = tgt == t
            pl.append(pearson_loss(pred[m], y[m]))
            rk.append(rank_loss(pred[m], y[m], lc.rank_margin))
        if lc.plcc > 0:
            v = sum(pl) / len(pl)
            loss = loss + lc.plcc * v
            parts["plcc_loss"] = float(v.detach())
        if lc.rank > 0:
            v = sum(rk) / len(rk)
            loss = loss + lc.rank * v
            parts["rank_loss"] = float(v.detach())
    if lc.lm > 0:
        ce = F.cross_entropy(out["lm_logits"], batch["lm_target"], ignore_index=-100)
        loss = loss + lc.lm * ce
        parts["lm_loss"] = float(ce.detach())
    return loss, parts
