"""Evaluation during training: predictions, validation correlations, QA accuracy,
and which epoch is the best.

:class:`EvaluationMixin` is part of :class:`~videojury.train.loop.Trainer`; it
uses the trainer's model, accelerator, data split and loaders.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .data import EncodedDataset

__all__ = ["EvaluationMixin", "correlations"]


def correlations(pred: np.ndarray, mos: np.ndarray) -> dict[str, float]:
    """SRCC/PLCC/KRCC (NaN when undefined)."""
    from ..stats.correlation import krcc, plcc, srcc

    if len(pred) < 2:
        return {"srcc": float("nan"), "plcc": float("nan"), "krcc": float("nan")}
    return {"srcc": srcc(pred, mos), "plcc": plcc(pred, mos), "krcc": krcc(pred, mos)}


class EvaluationMixin:
    """Validation of the model being trained (a part of ``Trainer``)."""

    def predict(self, ds) -> np.ndarray:
        """Predictions (n, targets) in MOS/scale units for every example of ``ds``."""
        import torch

        n = len(ds)
        mine = list(range(self.rank, n, self.world))
        bs = self.cfg.train.eval_batch_size
        batches = [mine[i:i + bs] for i in range(0, len(mine), bs)]
        rows: list[tuple[int, list[float]]] = []
        self.model.eval()
        with torch.no_grad():
            for batch in self._loader(ds, batches):
                b = self._to_device(batch)
                with self.acc.autocast():
                    preds = self.model(b["inputs"], b["anchors"])["preds"].float().cpu()
                rows += list(zip(b["index"].tolist(), preds.tolist()))
        if self.world > 1:
            from accelerate.utils import gather_object

            rows = gather_object(rows)
        out = np.full((n, len(self.targets)), np.nan)
        for i, p in rows:
            out[i] = p
        return out

    def qa_accuracy(self, ds) -> float:
        """Share of QA examples where P(Yes) vs P(No) picks the human answer."""
        import torch

        n = len(ds)
        mine = list(range(self.rank, n, self.world))
        bs = self.cfg.train.eval_batch_size
        batches = [mine[i:i + bs] for i in range(0, len(mine), bs)]
        hits: list[int] = []
        self.model.eval()
        with torch.no_grad():
            for batch in self._loader(ds, batches):
                b = self._to_device(batch)
                with self.acc.autocast():
                    logits = self.model(b["inputs"], b["anchors"], want_lm=True)["lm_logits"]
                pair = logits.gather(1, b["choices"])
                said_yes = (pair[:, 0] >= pair[:, 1]).long()
                hits += (said_yes == b["answer"]).long().tolist()
        if self.world > 1:
            from accelerate.utils import gather_object

            hits = gather_object(hits)
        return float(np.mean(hits)) if hits else float("nan")

    def evaluate(self) -> dict[str, Any]:
        """Validation metrics: per target SRCC/PLCC/KRCC and L1, their means, QA accuracy."""
        res: dict[str, Any] = {}
        self._val_table = None
        if self.split.val:
            ds = self._dataset(self.split.val, with_answer=False, kind="val")
            pred = self.predict(ds)
            self._val_table = [
                {"video": e.video, "target": self.targets[e.target].name, "mos": e.mos,
                 "prediction": float(pred[i, e.target]) * self.targets[e.target].scale}
                for i, e in enumerate(self.split.val)]
            l1s, keys = [], {"srcc": [], "plcc": [], "krcc": []}
            for t_idx, t in enumerate(self.targets):
                idx = [i for i, e in enumerate(self.split.val) if e.target == t_idx]
                if not idx:
                    continue
                p = pred[idx, t_idx]
                y = np.array([self.split.val[i].value for i in idx])
                c = correlations(p, y)
                for k, v in c.items():
                    res[f"{k}_{t.name}"] = v
                    keys[k].append(v)
                l1s.append(float(np.mean(np.abs(p - y))))
            for k, vals in keys.items():
                res[k] = float(np.nanmean(vals)) if vals and not all(
                    math.isnan(v) for v in vals) else float("nan")
            res["val_l1"] = float(np.mean(l1s)) if l1s else float("nan")
        if self.split.val_qa:
            res["qa_acc"] = self.qa_accuracy(self._dataset(self.split.val_qa, True, "val_qa"))
        if getattr(self.split, "val_pairs", None):
            res.update(self.pair_accuracy(self._pair_dataset(self.split.val_pairs, "val_pairs")))
        return res

    def pair_accuracy(self, ds) -> dict[str, float]:
        """Share of validation pairs with a winner that the judge (``pair_acc``, when the
        evaluator has one) and the regression scores (``pair_acc_scores``) order right,
        overall and per target."""
        import torch

        from .pairwise import pair_logits

        n = len(ds)
        mine = list(range(self.rank, n, self.world))
        bs = max(1, self.cfg.train.eval_batch_size // 2)
        batches = [mine[i:i + bs] for i in range(0, len(mine), bs)]
        rows: list[tuple[int, float, float]] = []
        has_judge = getattr(self.model, "judges", None) is not None
        self.model.eval()
        with torch.no_grad():
            for batch in self._loader(ds, batches):
                b = self._to_device(batch)
                with self.acc.autocast():
                    u, ds_ = pair_logits(self.model, b)
                rows += list(zip(b["pair_index"].tolist(), u.float().cpu().tolist(),
                                 ds_.float().cpu().tolist()))
        if self.world > 1:
            from accelerate.utils import gather_object

            rows = gather_object(rows)
        res: dict[str, float] = {}
        decided = [(i, u, d) for i, u, d in rows if ds.pairs[i].label != 0.5]
        if not decided:
            return res

        def acc(sel, col) -> float:
            return float(np.mean([(r[col] > 0) == (ds.pairs[r[0]].label == 1.0) for r in sel]))

        if has_judge:
            res["pair_acc"] = acc(decided, 1)
        res["pair_acc_scores"] = acc(decided, 2)
        if len(self.targets) > 1 and has_judge:
            for t_idx, t in enumerate(self.targets):
                sel = [r for r in decided if ds.pairs[r[0]].target == t_idx]
                if sel:
                    res[f"pair_acc_{t.name}"] = acc(sel, 1)
        return res

    def _pair_dataset(self, pairs, kind: str):
        from .pairwise import PairDataset

        cache = self.__dict__.setdefault("_datasets", {})
        if (kind, "pairs") not in cache:
            cache[(kind, "pairs")] = PairDataset(pairs, self.encoder, self.frames,
                                                 cache=self.cfg.data.cache)
        return cache[(kind, "pairs")]

    _datasets: dict[tuple, Any]

    def _dataset(self, examples, with_answer: bool, kind: str):
        key = (kind, with_answer)
        cache = self.__dict__.setdefault("_datasets", {})
        if key not in cache:
            cache[key] = EncodedDataset(examples, self.encoder, self.frames, with_answer,
                                        cache=self.cfg.data.cache)
        return cache[key]

    def _selectable(self, res: dict[str, Any]) -> bool:
        """Whether ``res`` holds the metric the best epoch is selected by."""
        by = self.cfg.train.select_by
        return ("val_l1" if by == "loss" else by) in res

    def _better(self, new: dict[str, Any], best: dict[str, Any] | None) -> bool:
        by = self.cfg.train.select_by
        key = "val_l1" if by == "loss" else by
        v = new.get(key, float("nan"))
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return best is None
        if best is None or best.get(key) is None or math.isnan(best.get(key, float("nan"))):
            return True
        return v < best[key] if by == "loss" else v > best[key]
