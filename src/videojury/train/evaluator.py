"""Using a trained LMM evaluator: load a folder, score frames.

:func:`load_evaluator` rebuilds the evaluator from its folder (strictly; see
:mod:`.saving`) on a private copy of the base model, and
:meth:`LoadedEvaluator.score` predicts each target's MOS for sampled frames
and their items, with the same prompts, frame sampling, anchor location and
padding rules as training. The ``trained:DIR`` metric wraps it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import MetricError
from .saving import read_meta


def checkpoint_from_meta(meta: dict[str, Any]):
    """The base :class:`~videojury.models.checkpoints.Checkpoint` an evaluator names."""
    from ..models.checkpoints import CHECKPOINTS, resolve_checkpoint

    base = meta["base"]
    name = base.get("name") or base.get("source")
    if name not in CHECKPOINTS:
        name = base.get("source") or name
    return resolve_checkpoint(name, base.get("processor") or None)


@dataclass
class LoadedEvaluator:
    """An evaluator ready to score: model, prompt encoder, description."""

    folder: Path
    meta: dict[str, Any]
    model: Any
    backbone: Any
    encoder: Any

    @property
    def targets(self) -> list[Any]:
        return self.encoder.targets

    def _batches(self, encoded: list[Any], batch_size: int):
        from .model import collate

        tok = self.encoder.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        side = self.meta.get("padding_side", "left")
        for start in range(0, len(encoded), batch_size):
            yield collate(encoded[start:start + batch_size], int(pad), side)

    def _device(self, batch: dict[str, Any]) -> dict[str, Any]:
        inputs = {}
        for k, v in batch["inputs"].items():
            v = v.to(self.backbone.device)
            inputs[k] = v.to(self.backbone.dtype) if v.is_floating_point() else v
        return inputs

    def score(self, frames: Sequence[Any], items: Sequence[Any], *, batch_size: int = 4,
              qa: bool = False) -> list[dict[str, float]]:
        """Predicted MOS per target (on the target's scale) and, with ``qa``, P(Yes)."""
        import torch

        encoded = []
        for i, (fr, it) in enumerate(zip(frames, items)):
            for t_idx in range(len(self.targets)):
                before, _ = self.encoder.mos_texts(t_idx, getattr(it, "prompt", None), None,
                                                   False)
                enc = self.encoder.encode(fr, before, before)
                enc.index, enc.target = i, t_idx
                encoded.append(enc)
            if qa:
                question = getattr(it, "question", None)
                if not question:
                    raise MetricError(f"{getattr(it, 'where', it)}: qa=true needs a question")
                before, _ = self.encoder.qa_texts(question, None, False)
                enc = self.encoder.encode(fr, before, before)
                enc.index, enc.target = i, -1
                enc.choices = self.encoder.answer_ids(before)
                encoded.append(enc)
        out: list[dict[str, float]] = [{} for _ in frames]
        with self.backbone.lock, torch.no_grad():
            for batch in self._batches(encoded, max(1, int(batch_size))):
                want_lm = bool((batch["target"] < 0).any())
                res = self.model(self._device(batch), batch["anchors"].to(self.backbone.device),
                                 want_lm=want_lm)
                preds = res["preds"].float().cpu()
                for row, (i, t_idx) in enumerate(zip(batch["index"].tolist(),
                                                     batch["target"].tolist())):
                    if t_idx >= 0:
                        t = self.targets[t_idx]
                        out[i][t.name] = float(preds[row, t_idx]) * t.scale
                    else:
                        pair = res["lm_logits"][row, batch["choices"][row]].float()
                        out[i]["qa_yes"] = float(torch.softmax(pair, dim=0)[0])
        for d in out:
            for k, v in d.items():
                if not math.isfinite(v):
                    raise MetricError(f"the evaluator produced a non-finite {k}")
        return out


    def compare(self, frames_a: Sequence[Any], frames_b: Sequence[Any], items: Sequence[Any],
                target: str | None = None, *, batch_size: int = 4) -> list[float]:
        """P(video a is better than video b) per pair, from the pair judge of ``target``
        (default: the first target); needs an evaluator trained with a pairwise stage."""
        import torch

        from .pairwise import collate_pairs, pair_logits

        if getattr(self.model, "judges", None) is None:
            raise MetricError(f"{self.folder}: this evaluator has no pair judge (train it with a "
                              "pairwise stage)")
        names = [t.name for t in self.targets]
        t_idx = names.index(target) if target else 0
        if target and target not in names:
            raise MetricError(f"{self.folder}: no target {target!r} (targets: "
                              f"{', '.join(names)})")
        rows = []
        for i, (fa, fb, it) in enumerate(zip(frames_a, frames_b, items)):
            before, _ = self.encoder.mos_texts(t_idx, getattr(it, "prompt", None), None, False)
            a, b = self.encoder.encode(fa, before, before), self.encoder.encode(fb, before, before)
            a.target = b.target = t_idx
            rows.append((a, b, t_idx, 0.5, i))
        tok = self.encoder.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        side = self.meta.get("padding_side", "left")
        out: list[float] = []
        with self.backbone.lock, torch.no_grad():
            for start in range(0, len(rows), max(1, int(batch_size))):
                batch = collate_pairs(rows[start:start + max(1, int(batch_size))], int(pad), side)
                batch["inputs"] = self._device(batch)
                u, _ = pair_logits(self.model, batch)
                out += torch.sigmoid(u.float()).cpu().tolist()
        return out


def load_evaluator(folder: str | Path, device: str = "", dtype: str = "",
                   trust_remote_code: bool = False) -> LoadedEvaluator:
    """Rebuild an evaluator from its folder; any mismatch raises :class:`MetricError`.

    The base model is loaded through the shared loader with the process-wide
    cache set aside (LoRA is injected into it). ``trust_remote_code`` must be
    given when the evaluator's base needed it at training time.
    """
    import torch

    from .model import PromptEncoder, TargetPrompt, build_evaluator, load_private_backbone
    from .saving import load_weights_into

    path = Path(folder)
    meta = read_meta(path)
    base = meta["base"]
    if base.get("trust_remote_code") and not trust_remote_code:
        raise MetricError(f"{path}: the base model {base.get('name')} runs code from its "
                          "repository; pass trust_remote_code=true if you trust it")
    ck = checkpoint_from_meta(meta)
    backbone = load_private_backbone(ck, device or None, dtype or None, bool(trust_remote_code))
    if backbone.checkpoint.family != base.get("family"):
        raise MetricError(f"{path}: trained on a {base.get('family')} model but "
                          f"{ck.source} is a {backbone.checkpoint.family} model")
    try:
        targets = [TargetPrompt(t["name"], t["question"], t["prefix"], float(t["scale"]))
                   for t in meta["targets"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise MetricError(f"{path}: malformed 'targets' in evaluator.json ({exc})") from None
    lora = meta.get("lora") or {}
    head = meta["head"]
    from .model import _text_config

    dim = int(_text_config(backbone.model).hidden_size)
    if int(head.get("input_dim", dim)) != dim:
        raise MetricError(f"{path}: the heads read {head.get('input_dim')}-dim hidden states "
                          f"but {ck.source} has {dim}; the evaluator was trained on another "
                          "base model")
    # The fresh parameters are overwritten by the saved ones; keep the
    # caller's random state untouched by their initialisation.
    with torch.random.fork_rng(devices=[]):
        model = build_evaluator(backbone, targets, lora_names=list(lora.get("modules", [])),
                                r=int(lora.get("r", 0)), alpha=int(lora.get("alpha", 1)),
                                dropout=float(lora.get("dropout", 0.0)),
                                head_hidden=int(head.get("hidden", 0)),
                                head_dropout=float(head.get("dropout", 0.0)),
                                judge=((int(meta["judge"]["hidden"]),
                                        float(meta["judge"]["score_weight"]))
                                       if meta.get("judge") else None),
                                temporal=_temporal_spec(meta, path),
                                temporal_swin=(meta.get("temporal") or {}).get("swin"),
                                head_position=str(head.get("position", "anchor")))
    load_weights_into(model, path, meta)
    model.eval()
    encoder = PromptEncoder(backbone, targets)
    if model.temporal is not None:
        encoder.use_temporal(model.temporal.spec.tokens, backbone.model.config)
    return LoadedEvaluator(path, meta, model, backbone, encoder)


def _temporal_spec(meta: dict[str, Any], path: Path):
    """The saved temporal branch's layout (its weights come from temporal.safetensors,
    never from the checkpoint it was initialised from)."""
    from .temporal import TEMPORAL_KINDS, TemporalSpec

    t = meta.get("temporal")
    if not t:
        return None
    try:
        spec = TemporalSpec(str(t["kind"]), int(t["tokens"]), int(t.get("width", 0)),
                            bool(t.get("trainable", False)), "")
    except (KeyError, TypeError, ValueError) as exc:
        raise MetricError(f"{path}: malformed 'temporal' in evaluator.json ({exc})") from None
    if spec.kind not in TEMPORAL_KINDS:
        raise MetricError(f"{path}: unknown temporal branch kind {spec.kind!r}")
    return spec
