"""The training loop: stages, accelerate, checkpoints, evaluation, logs.

:func:`train` runs the stages of a :class:`~.config.TrainConfig` in order
on one CPU, one GPU, or several GPUs under ``accelerate launch`` (each
process takes its own slice of every global batch; gradients are averaged
by DDP). On CUDA the base model is held in bf16 with autocast; on CPU
everything is fp32.

Determinism: the order of examples in an epoch is a permutation drawn from
a generator seeded with (seed, stage, epoch), data loading uses its own
generator, and dropout draws from torch's global generator, whose state is
saved in every checkpoint. A run stopped at any point (even by SIGKILL)
and resumed from its last checkpoint therefore replays the lost steps
exactly and ends with the same weights as a run that was never stopped
(bit-for-bit on CPU; on GPU up to the non-determinism of CUDA kernels).

What the run writes in ``output_dir``::

    evaluator.json, adapter.safetensors, heads.safetensors
                        the selected evaluator (best validation epoch of the
                        last stage, or the last epoch without validation)
    last/               the evaluator at the end of training
    checkpoints/        resumable checkpoints (the newest ``keep_checkpoints``)
    metrics.csv         one row per optimizer step and per evaluation
    config.json         the resolved configuration
    summary.json        timings, best epoch, validation metrics
    tensorboard/        the same curves, when TensorBoard is installed
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InputError, MetricError, require
from .config import TrainConfig
from .data import EncodedDataset, FrameCache, Split, frame_policy, split_examples
from .saving import (
    HEADS_FILE,
    assign_exact,
    optimizer_from_files,
    optimizer_to_files,
    read_tensors,
    rng_state,
    save_evaluator,
    save_tensors,
    set_rng_state,
)
from ..io import write_json

# Config keys that may change between a run and its resumption.
_VOLATILE = {("train", "max_steps"), ("train", "checkpoint_every"),
             ("train", "keep_checkpoints"), ("data", "num_workers"), ("data", "cache"),
             ("train", "tensorboard"), ("train", "eval_batch_size"), ("train", "threads")}


@dataclass
class TrainResult:
    """What a finished run produced."""

    output_dir: Path
    evaluator_dir: Path
    best: dict[str, Any]
    baseline: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)
    global_step: int = 0
    seconds: float = 0.0
    seconds_per_step: float = 0.0
    stopped_early: bool = False
    main_process: bool = True  # False on the other ranks of a multi-process run


def _fingerprint(cfg: TrainConfig) -> str:
    d = cfg.to_dict()
    d.pop("source", None)
    for sec, key in _VOLATILE:
        d.get(sec, {}).pop(key, None)
    return json.dumps(d, sort_keys=True)


def _local_or_name(cfg: TrainConfig, value: str) -> str:
    """A model folder relative to the config's folder, as every other config path; a short
    name of the checkpoint table or a hub id as it is."""
    from ..models.checkpoints import CHECKPOINTS

    if not value or value in CHECKPOINTS:
        return value
    local = Path(cfg.resolve_path(value))
    return str(local) if local.is_dir() else value


def lr_factor(step: int, total: int, warmup: int, kind: str) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    prog = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "linear":
        return max(0.0, 1.0 - prog)
    return 0.5 * (1.0 + math.cos(math.pi * prog))


class CsvLog:
    """Append-only CSV of training and evaluation rows (fixed columns)."""

    def __init__(self, path: Path, columns: list[str], enabled: bool) -> None:
        self.path = path
        self.columns = columns
        self.enabled = enabled

    def truncate_after(self, global_step: int) -> None:
        """Drop rows logged after ``global_step`` (they are replayed on resume)."""
        if not self.enabled or not self.path.exists():
            return
        with open(self.path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if int(r.get("global_step") or 0) <= global_step]
        with open(self.path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, self.columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    def append(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        new = not self.path.exists()
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, self.columns, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: (f"{v:.3f}" if k == "time" else f"{v:.6g}")
                        if isinstance(v, float) else v for k, v in row.items()})


def _correlations(pred: np.ndarray, mos: np.ndarray) -> dict[str, float]:
    """SRCC/PLCC/KRCC from the agreement module (NaN when undefined)."""
    from ..stats.correlation import krcc, plcc, srcc

    if len(pred) < 2:
        return {"srcc": float("nan"), "plcc": float("nan"), "krcc": float("nan")}
    return {"srcc": srcc(pred, mos), "plcc": plcc(pred, mos), "krcc": krcc(pred, mos)}


def _pearson_loss(pred, y):
    """1 - Pearson r of a batch (0 when undefined)."""
    import torch

    if pred.numel() < 3:
        return pred.sum() * 0.0
    pc, yc = pred - pred.mean(), y - y.mean()
    den = torch.sqrt((pc * pc).sum() * (yc * yc).sum()) + 1e-8
    return 1.0 - (pc * yc).sum() / den


def _rank_loss(pred, y, margin: float):
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


class Trainer:
    """One training run (use :func:`train`)."""

    def __init__(self, cfg: TrainConfig, log: Callable[[str], None] | None = None,
                 on_step: Callable[[int], None] | None = None) -> None:
        self.cfg = cfg
        self.say = log or (lambda msg: None)
        self.on_step = on_step
        self.out = Path(cfg.resolve_path(cfg.output_dir))

    # --- setup -------------------------------------------------------------------
    def setup(self) -> None:
        torch = require("torch", "models", "training evaluators")
        require("peft", "models", "LoRA training")
        accelerate = require("accelerate", "models", "training evaluators")
        from ..models.checkpoints import resolve_checkpoint
        from .model import (
            PromptEncoder,
            build_evaluator,
            load_private_backbone,
            lora_module_names,
            target_prompts,
        )

        cfg = self.cfg
        if cfg.train.threads > 0:
            # Tiny models on a shared CPU run many times faster on one thread:
            # OpenMP workers spin while they wait for a busy core.
            torch.set_num_threads(int(cfg.train.threads))
        dev = (cfg.train.device or "").lower()
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"train.device is {cfg.train.device!r} but CUDA is not available")
        cpu = dev == "cpu" or not torch.cuda.is_available()
        use_bf16 = bool(cfg.train.bf16) and not cpu
        kwargs = []
        if any(st.kind != "regression" for st in cfg.stages) or cfg.loss.lm:
            # Heads idle in LM-only stages would stall DDP's gradient reduction.
            kwargs.append(accelerate.DistributedDataParallelKwargs(find_unused_parameters=True))
        self.acc = accelerate.Accelerator(mixed_precision="bf16" if use_bf16 else "no", cpu=cpu,
                                          kwargs_handlers=kwargs)
        self.main = self.acc.is_main_process
        if not self.main:
            self.say = lambda msg: None  # one copy of each progress line
        torch.manual_seed(cfg.seed)
        self.split: Split = split_examples(cfg)
        self.say(f"data: {self.split.describe()}")
        needs = {st.kind for st in cfg.stages if st.epochs > 0}
        if needs & {"projector", "regression"} and not self.split.train:
            raise InputError("config: the projector/regression stages need MOS training rows")
        if "qa" in needs and not self.split.train_qa:
            raise InputError("config: a qa stage needs QA rows (data.qa)")
        self.checkpoint = resolve_checkpoint(_local_or_name(cfg, cfg.base),
                                             _local_or_name(cfg, cfg.processor) or None)
        backbone = load_private_backbone(self.checkpoint, str(self.acc.device),
                                         "bfloat16" if use_bf16 else "float32",
                                         cfg.trust_remote_code)
        self.checkpoint = backbone.checkpoint
        self.backbone = backbone
        self.targets = target_prompts(cfg.targets)
        self.encoder = PromptEncoder(backbone, self.targets)
        lc = cfg.lora
        self.lora_names = (lora_module_names(backbone.model, lc.targets, lc.vision,
                                             lc.vision_targets, lc.layers) if lc.r > 0 else [])
        # Heads and LoRA start from the same draws in every run with this seed.
        torch.manual_seed(cfg.seed)
        self.model = build_evaluator(backbone, self.targets, lora_names=self.lora_names,
                                     r=lc.r, alpha=lc.alpha, dropout=lc.dropout,
                                     head_hidden=cfg.head.hidden, head_dropout=cfg.head.dropout,
                                     init_bias=cfg.head.init_bias)
        if cfg.train.gradient_checkpointing:
            hf = self.model.hf
            # Non-reentrant checkpointing works with frozen inputs (no need to make the
            # embeddings require grad) and under DDP.
            if hasattr(hf, "activation_checkpointing_enable"):  # transformers >= 5.x
                hf.activation_checkpointing_enable({"use_reentrant": False})
            else:
                hf.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs={"use_reentrant": False})
            hf.config.use_cache = False
        self.projector_trained = any(st.kind == "projector" or st.train_projector
                                     for st in cfg.stages)
        self.frames = FrameCache(frame_policy(cfg.data.frames, cfg.data.size),
                                 keep=cfg.data.cache)
        self.pad_id = self._pad_id()
        self.world, self.rank = self.acc.num_processes, self.acc.process_index
        self.say(f"base {self.checkpoint.name} ({self.checkpoint.family}) on "
                 f"{self.acc.device}{' bf16' if use_bf16 else ''}, {self.world} process(es); "
                 f"LoRA on {len(self.lora_names)} modules, "
                 f"{self._count(True):,} trainable of {self._count(False):,} parameters")

    def _pad_id(self) -> int:
        tok = self.encoder.tokenizer
        pid = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        if pid is None:
            raise MetricError("the tokenizer has neither a pad nor an eos token to pad with")
        return int(pid)

    def _count(self, trainable_only: bool) -> int:
        """Parameters in the model, or only those the evaluator adds or trains."""
        params = {id(p): p for p in self.model.parameters()}
        if trainable_only:
            params = {id(p): p for p in self._saved_params().values()}
        return sum(p.numel() for p in params.values())

    # --- parameters --------------------------------------------------------------
    def _saved_params(self) -> dict[str, Any]:
        from .model import heads_state, trainable_state

        out = {"adapter." + k: v for k, v in
               trainable_state(self.model, self.projector_trained).items()}
        out.update({"heads." + k: v for k, v in heads_state(self.model).items()})
        return out

    def _set_trainable(self, kind: str, train_projector: bool) -> list[list[Any]]:
        """Freeze everything, then unfreeze what ``kind`` trains; returns [body, heads] params."""
        from .model import PROJECTOR_PATTERN

        for p in self.model.parameters():
            p.requires_grad_(False)
        body, heads = [], []
        for name, p in self.model.hf.named_parameters():
            is_proj = bool(PROJECTOR_PATTERN.search(name)) and "lora_" not in name
            if kind == "projector":
                on = is_proj
            else:
                on = "lora_" in name or (train_projector and is_proj)
            if on:
                p.requires_grad_(True)
                body.append(p)
        if kind == "regression":
            for p in self.model.heads.parameters():
                p.requires_grad_(True)
                heads.append(p)
        return [body, heads]

    # --- batches -----------------------------------------------------------------
    def _epoch_batches(self, n: int, stage: int, epoch: int) -> list[list[int]]:
        """This process's micro-batches of one epoch (same permutation on every process)."""
        import torch

        g = torch.Generator().manual_seed(int(self.cfg.seed) * 1_000_003 + stage * 10_007 + epoch)
        perm = torch.randperm(n, generator=g).tolist()
        bs = self.cfg.train.batch_size
        gbs = bs * self.world
        out = []
        for start in range(0, n, gbs):
            chunk = perm[start:start + gbs]
            if self.world > 1 and len(chunk) < gbs:
                # Every process needs a batch for the collective ops; wrap around.
                chunk = chunk + perm[:gbs - len(chunk)]
            mine = chunk[self.rank * bs:(self.rank + 1) * bs]
            if mine:
                out.append(mine)
        return out

    def _loader(self, ds, batches: list[list[int]]):
        import torch
        from torch.utils.data import DataLoader

        from .model import collate

        # A partial (not a lambda) so worker processes can receive it under any start method.
        fn = functools.partial(collate, pad_id=self.pad_id, side=self.cfg.train.padding_side)
        return DataLoader(ds, batch_sampler=batches, num_workers=self.cfg.data.num_workers,
                          collate_fn=fn, generator=torch.Generator().manual_seed(self.cfg.seed))

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        import torch

        dev = self.acc.device
        dtype = self.backbone.dtype
        inputs = {}
        for k, v in batch["inputs"].items():
            v = v.to(dev)
            if v.is_floating_point():
                v = v.to(dtype)
            inputs[k] = v
        out = {k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        out["inputs"] = inputs
        return out

    # --- losses ------------------------------------------------------------------
    def _loss(self, model, kind: str, batch: dict[str, Any]) -> tuple[Any, dict[str, float]]:
        """The stage's loss on one micro-batch; ``model`` is the prepared (DDP) module, so
        the backward pass averages gradients across processes."""
        import torch.nn.functional as F

        lc = self.cfg.loss
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
        l1 = (pred - y).abs().mean()
        loss = lc.l1 * l1
        parts["l1"] = float(l1.detach())
        if lc.plcc > 0 or lc.rank > 0:
            pl, rk = [], []
            for t in tgt.unique():
                m = tgt == t
                pl.append(_pearson_loss(pred[m], y[m]))
                rk.append(_rank_loss(pred[m], y[m], lc.rank_margin))
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

    # --- evaluation --------------------------------------------------------------
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
                c = _correlations(p, y)
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
        return res

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

    # --- saving ------------------------------------------------------------------
    def meta(self, info: dict[str, Any]) -> dict[str, Any]:
        """The ``evaluator.json`` fields (see :mod:`.saving`)."""
        from .._version import __version__
        from .model import _text_config

        cfg = self.cfg
        ck = self.checkpoint
        dim = int(_text_config(self.model.hf).hidden_size)
        return {
            "base": {"name": cfg.base, "source": ck.source, "family": ck.family,
                     "processor": _local_or_name(cfg, cfg.processor) or None,
                     "revision": ck.revision,
                     "trust_remote_code": bool(cfg.trust_remote_code)},
            "frames": {"n": cfg.data.frames, "size": list(cfg.data.size)},
            "targets": [t.to_dict() for t in self.targets],
            "lora": ({"r": cfg.lora.r, "alpha": cfg.lora.alpha, "dropout": cfg.lora.dropout,
                      "modules": self.lora_names} if cfg.lora.r > 0 else None),
            "projector_trained": self.projector_trained,
            "head": {"input_dim": dim, "hidden": int(cfg.head.hidden) or dim,
                     "dropout": cfg.head.dropout},
            "qa_trained": any(st.kind == "qa" and st.epochs > 0 for st in cfg.stages),
            "padding_side": cfg.train.padding_side,
            "training": {**info, "seed": cfg.seed, "videojury": __version__,
                         "config": cfg.to_dict()},
        }

    def _export(self, folder: Path, info: dict[str, Any]) -> None:
        """Save the evaluator as it is now, with the validation predictions it made."""
        if self.main:
            save_evaluator(folder, self.model, self.meta(info), self.projector_trained)
            table = getattr(self, "_val_table", None)
            if table:
                import pandas as pd

                pd.DataFrame(table).to_csv(folder / "val_predictions.csv", index=False)
        self.acc.wait_for_everyone()

    def _ckpt_dir(self) -> Path:
        return self.out / "checkpoints"

    def save_checkpoint(self, pos: dict[str, Any], optimizer) -> None:
        """Write a resumable checkpoint at an optimizer-step boundary."""
        root = self._ckpt_dir()
        name = f"step-{pos['global_step']:07d}"
        tmp = root / (name + ".tmp")
        if self.main:
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
        self.acc.wait_for_everyone()
        save_tensors(tmp / f"rng-{self.rank}.safetensors", rng_state())
        self.acc.wait_for_everyone()
        if self.main:
            save_tensors(tmp / "weights.safetensors", self._saved_params())
            tensors, info = optimizer_to_files(optimizer.state_dict())
            save_tensors(tmp / "optimizer.safetensors", tensors)
            write_json(info, tmp / "optimizer.json", sort_keys=True)
            write_json({**pos, "fingerprint": _fingerprint(self.cfg), "world": self.world},
                       tmp / "state.json", sort_keys=True)
            final = root / name
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            write_json({"checkpoint": name}, root / "latest.json")
            keep = max(1, self.cfg.train.keep_checkpoints)
            old = sorted(p for p in root.glob("step-*") if p.is_dir() and not
                         p.name.endswith(".tmp"))
            for p in old[:-keep]:
                shutil.rmtree(p, ignore_errors=True)
        self.acc.wait_for_everyone()

    def load_checkpoint(self) -> dict[str, Any] | None:
        """Restore weights from the newest checkpoint; returns its state (None if none)."""
        latest = self._ckpt_dir() / "latest.json"
        if not latest.exists():
            return None
        name = json.loads(latest.read_text())["checkpoint"]
        folder = self._ckpt_dir() / name
        state = json.loads((folder / "state.json").read_text())
        if state.get("fingerprint") != _fingerprint(self.cfg):
            raise InputError(f"{folder}: the configuration changed since this checkpoint was "
                             "written (only max_steps, checkpoint_every, keep_checkpoints, "
                             "num_workers, cache, tensorboard and eval_batch_size may change "
                             "on --resume); start a new output_dir or restore the config")
        if int(state.get("world", 1)) != self.world:
            raise InputError(f"{folder}: written by {state.get('world')} process(es), resumed "
                             f"with {self.world}; resume with the same number of processes")
        assign_exact(self._saved_params(), read_tensors(folder / "weights.safetensors",
                                                       "checkpoint"),
                     str(folder / "weights.safetensors"))
        state["folder"] = str(folder)
        return state

    # --- the run -----------------------------------------------------------------
    def run(self, resume: bool = False) -> TrainResult:
        import torch

        threads = torch.get_num_threads()
        try:
            return self._run(resume)
        finally:
            torch.set_num_threads(threads)  # train.threads is for this run only

    def _run(self, resume: bool) -> TrainResult:
        import torch

        t_start = time.perf_counter()
        self.setup()
        cfg = self.cfg
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json(cfg.to_dict(), self.out / "config.json", sort_keys=True)
        cols = (["time", "stage", "kind", "epoch", "step", "global_step", "split", "lr", "loss",
                 "l1", "plcc_loss", "rank_loss", "lm_loss", "ce", "val_l1", "srcc", "plcc",
                 "krcc", "qa_acc", "seconds", "mem_gb"]
                + [f"{k}_{t.name}" for t in self.targets for k in ("srcc", "plcc", "krcc")])
        log = CsvLog(self.out / "metrics.csv", cols, self.main)
        tb = self._tensorboard() if self.main and cfg.train.tensorboard else None
        state = self.load_checkpoint() if resume else None
        if resume and state is None:
            self.say("no checkpoint to resume from; starting from the beginning")
        if state is None and self.main and (self.out / "metrics.csv").exists():
            (self.out / "metrics.csv").unlink()
        if state is not None:
            self.say(f"resuming from {state['folder']} (stage {state['stage']}, epoch "
                     f"{state['epoch']}, step {state['step']})")
            log.truncate_after(int(state["global_step"]))
        history: list[dict[str, Any]] = list(state.get("history", [])) if state else []
        # Stages that max_steps stopped early (stage -> its steps): a resumed run cannot go
        # back to them, so it may not pretend to be the full run.
        cut_short: dict[str, int] = dict(state.get("cut_short", {})) if state else {}
        for s_key, n_done in sorted(cut_short.items()):
            if int(s_key) < int(state["stage"]) and (not cfg.train.max_steps
                                                     or cfg.train.max_steps > n_done):
                raise InputError(
                    f"{state['folder']}: stage {s_key} ({cfg.stages[int(s_key)].kind}) was "
                    f"stopped after {n_done} optimizer steps by max_steps, and the run has "
                    "moved on to a later stage; resuming cannot finish it. Resume with the "
                    f"same --max-steps {n_done}, or start the full run in a new output_dir")
        best: dict[str, Any] | None = state.get("best") if state else None
        baseline: dict[str, Any] | None = state.get("baseline") if state else None
        global_step = int(state["global_step"]) if state else 0
        step_times: list[float] = []
        stopped_early = False
        last_stage = max((i for i, s in enumerate(cfg.stages) if s.epochs > 0), default=-1)

        for s_idx, stage in enumerate(cfg.stages):
            if stage.epochs <= 0:
                continue
            if state is not None and s_idx < int(state["stage"]):
                continue
            resuming_here = state is not None and s_idx == int(state["stage"])
            cut_short.pop(str(s_idx), None)  # set again below if max_steps stops it again
            examples = self.split.train_qa if stage.kind == "qa" else self.split.train
            with_answer = stage.kind != "regression" or cfg.loss.lm > 0
            ds = self._dataset(examples, with_answer, f"train-{stage.kind}")
            body, heads = self._set_trainable(stage.kind, stage.train_projector)
            lr = stage.lr or cfg.train.lr
            groups = [{"params": body, "lr": lr, "base_lr": lr}]
            if heads:
                hl = cfg.train.head_lr or lr
                groups.append({"params": heads, "lr": hl, "base_lr": hl})
            groups = [g for g in groups if g["params"]]
            if not groups:
                raise InputError(f"stage {s_idx} ({stage.kind}) has nothing to train (no LoRA "
                                 "and no projector found)")
            opt = torch.optim.AdamW(groups, lr=lr, weight_decay=cfg.train.weight_decay)
            model, opt = self.acc.prepare(self.model, opt)
            per_epoch = len(self._epoch_batches(len(ds), s_idx, 0))
            accum = cfg.train.grad_accum
            n_epochs = int(math.ceil(stage.epochs))
            micro_in = [per_epoch] * n_epochs
            micro_in[-1] = int(round(per_epoch * (stage.epochs - (n_epochs - 1))))
            # The schedule follows the planned length; max_steps only stops early, so it
            # may change on --resume without changing the run.
            total = sum(int(math.ceil(m / accum)) for m in micro_in)
            warmup = int(round(cfg.train.warmup_ratio * total))
            step = 0
            start_epoch, start_group = 0, 0
            if resuming_here:
                opt.load_state_dict(optimizer_from_files(
                    read_tensors(Path(state["folder"]) / "optimizer.safetensors", "checkpoint"),
                    json.loads((Path(state["folder"]) / "optimizer.json").read_text())))
                step = int(state["step"])
                start_epoch, start_group = int(state["epoch"]), int(state["group"])
                set_rng_state(read_tensors(Path(state["folder"]) /
                                           f"rng-{self.rank}.safetensors", "checkpoint"))
            elif baseline is None and stage.kind == "regression" and self.split.val:
                baseline = self.evaluate()
                row = {"time": time.time(), "stage": s_idx, "kind": stage.kind, "epoch": 0,
                       "step": 0, "global_step": global_step, "split": "val", **baseline}
                log.append(row)
                self.say("before training: " + _fmt(baseline))
            self.say(f"stage {s_idx} ({stage.kind}): {len(ds)} examples, {stage.epochs:g} "
                     f"epoch(s), {total} optimizer steps"
                     + (f" (stopping after {cfg.train.max_steps})" if cfg.train.max_steps
                        and cfg.train.max_steps < total else ""))
            state = None
            done = False
            for epoch in range(start_epoch, n_epochs):
                batches = self._epoch_batches(len(ds), s_idx, epoch)[:micro_in[epoch]]
                grouped = [batches[i:i + accum] for i in range(0, len(batches), accum)]
                flat = [b for g in grouped[start_group:] for b in g]
                loader = iter(self._loader(ds, flat))
                next_group = start_group
                for g_idx in range(start_group, len(grouped)):
                    if cfg.train.max_steps and step >= cfg.train.max_steps:
                        done = stopped_early = True
                        break
                    t0 = time.perf_counter()
                    model.train()
                    factor = lr_factor(step, total, warmup, cfg.train.schedule)
                    for g in opt.param_groups:
                        g["lr"] = g["base_lr"] * factor
                    group = grouped[g_idx]
                    sums: dict[str, float] = {}
                    loss_sum = 0.0
                    for m_idx in range(len(group)):
                        batch = self._to_device(next(loader))
                        sync = m_idx == len(group) - 1
                        with (nullcontext() if sync else self.acc.no_sync(model)):
                            with self.acc.autocast():
                                loss, parts = self._loss(model, stage.kind, batch)
                            self.acc.backward(loss / len(group))
                        loss_sum += float(loss.detach()) / len(group)
                        for k, v in parts.items():
                            sums[k] = sums.get(k, 0.0) + v / len(group)
                    if cfg.train.max_grad_norm > 0:
                        self.acc.clip_grad_norm_([p for g in groups for p in g["params"]],
                                                 cfg.train.max_grad_norm)
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                    step += 1
                    global_step += 1
                    next_group = g_idx + 1
                    step_times.append(time.perf_counter() - t0)
                    row = {"time": time.time(), "stage": s_idx, "kind": stage.kind,
                           "epoch": epoch + 1, "step": step, "global_step": global_step,
                           "split": "train", "lr": opt.param_groups[0]["lr"], "loss": loss_sum,
                           "seconds": step_times[-1], "mem_gb": self._peak_gb(), **sums}
                    log.append(row)
                    if tb is not None:
                        tb.add_scalar(f"train/loss_{stage.kind}", loss_sum, global_step)
                    every = cfg.train.checkpoint_every
                    if every and global_step % every == 0:
                        self.save_checkpoint(
                            {"stage": s_idx, "epoch": epoch, "group": g_idx + 1, "step": step,
                             "global_step": global_step, "best": best, "baseline": baseline,
                             "history": history, "cut_short": cut_short}, opt)
                    if self.on_step is not None:
                        self.on_step(global_step)  # after the step's checkpoint, if any
                    if cfg.train.max_steps and step >= cfg.train.max_steps:
                        done = stopped_early = next_group < len(grouped) or epoch + 1 < n_epochs
                        break
                # Where a resumed run picks up: the next epoch, or the rest of this one
                # when max_steps cut it short.
                resume_at = (epoch, next_group) if done else (epoch + 1, 0)
                if done:
                    cut_short[str(s_idx)] = step
                start_group = 0
                # --- end of epoch (or of a stage cut short by max_steps) ---
                res = self.evaluate()
                info = {"stage": s_idx, "kind": stage.kind, "epoch": epoch + 1,
                        "global_step": global_step, **res}
                history.append(info)
                log.append({"time": time.time(), "stage": s_idx, "kind": stage.kind,
                            "epoch": epoch + 1, "step": step, "global_step": global_step,
                            "split": "val", **res})
                if tb is not None:
                    for k, v in res.items():
                        tb.add_scalar(f"val/{k}", v, global_step)
                if res:
                    self.say(f"stage {s_idx} epoch {epoch + 1}: " + _fmt(res))
                if s_idx == last_stage and self._selectable(res) and self._better(res, best):
                    best = info
                    self._export(self.out / "best", info)
                self.save_checkpoint({"stage": s_idx, "epoch": resume_at[0],
                                      "group": resume_at[1], "step": step,
                                      "global_step": global_step, "best": best,
                                      "baseline": baseline, "history": history,
                                      "cut_short": cut_short}, opt)
                if done:
                    break
            self.model = self.acc.unwrap_model(model)

        final = {"global_step": global_step, **(history[-1] if history else {})}
        self._export(self.out / "last", final)
        chosen = self.out / "best" if (self.out / "best").exists() else self.out / "last"
        if self.main:
            names = ["adapter.safetensors", HEADS_FILE, "val_predictions.csv", "evaluator.json"]
            names = [n for n in names if (chosen / n).exists()]
            for name in names:
                shutil.copyfile(chosen / name, self.out / (name + ".tmp"))
            # evaluator.json last, so a reader never sees it before its weights.
            for name in names:
                os.replace(self.out / (name + ".tmp"), self.out / name)
        seconds = time.perf_counter() - t_start
        result = TrainResult(self.out, self.out, best or final, baseline, history, global_step,
                             seconds, float(np.mean(step_times)) if step_times else 0.0,
                             stopped_early, self.main)
        if self.main:
            write_json({
                "best": best, "baseline": baseline, "history": history,
                "global_step": global_step, "seconds": seconds,
                "seconds_per_step": result.seconds_per_step, "selected": chosen.name,
                "peak_gpu_memory_gb": self._peak_gb(), "processes": self.world,
                "data": self.split.describe()}, self.out / "summary.json", sort_keys=True)
        if tb is not None:
            tb.close()
        self.acc.wait_for_everyone()
        return result

    def _peak_gb(self) -> float | None:
        """Peak CUDA memory allocated by this process so far, in GiB (None on CPU)."""
        import torch

        if self.acc.device.type != "cuda":
            return None
        return torch.cuda.max_memory_allocated(self.acc.device) / 2**30

    def _tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.say("TensorBoard is not installed; curves go to metrics.csv only")
            return None
        return SummaryWriter(str(self.out / "tensorboard"))


def _fmt(res: dict[str, Any]) -> str:
    keys = [k for k in ("srcc", "plcc", "krcc", "val_l1", "qa_acc") if k in res]
    return ", ".join(f"{k} {res[k]:.4f}" for k in keys)


def train(cfg: TrainConfig, resume: bool = False,
          log: Callable[[str], None] | None = None,
          on_step: Callable[[int], None] | None = None) -> TrainResult:
    """Run a training configuration; see the module docstring for what it writes.

    ``on_step(global_step)`` is called after every optimizer step (and its
    checkpoint, when one is due): progress reporting, or stopping from outside.
    """
    return Trainer(cfg, log, on_step).run(resume=resume)
