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

import functools
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
from ..io import write_json
from .checkpointing import CheckpointMixin
from .config import TrainConfig
from .data import FrameCache, Split, frame_policy, split_examples
from .evaluation import EvaluationMixin
from .losses import stage_loss
from .runlog import CsvLog, fmt_metrics, log_columns, open_tensorboard, peak_gb
from .saving import HEADS_FILE, JUDGE_FILE, TEMPORAL_FILE, save_evaluator


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


class Trainer(CheckpointMixin, EvaluationMixin):
    """One training run (use :func:`train`).

    The seams live in their own modules: checkpoints (:mod:`.checkpointing`),
    losses (:mod:`.losses`), evaluation (:mod:`.evaluation`) and logs
    (:mod:`.runlog`); this class sets the run up and drives the stages.
    """

    # What ``_finish`` copies from the selected evaluator up into ``output_dir``
    # (evaluator.json last, so a reader never sees it before its weights).
    export_files: tuple[str, ...] = ("adapter.safetensors", HEADS_FILE, JUDGE_FILE,
                                     TEMPORAL_FILE, "val_predictions.csv", "evaluator.json")

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
        cpu = self._threads_and_device(torch)
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
        if "pairwise" in needs and not self.split.train_pairs:
            raise InputError("config: the pairwise stage has no training pairs (every pair in "
                             "data.pairs touches a validation video; give data.val_pairs or "
                             "more pairs)")
        tck = cfg.resolve_path(cfg.temporal.checkpoint)
        if tck and not Path(tck).is_file():
            raise InputError(f"config: temporal.checkpoint {cfg.temporal.checkpoint!r} is not a "
                             "file; give LOVE's temporal.pth, a FAST-VQA or a DOVER file")
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
        self.pairwise = any(st.kind == "pairwise" and st.epochs > 0 for st in cfg.stages)
        self.model = build_evaluator(backbone, self.targets, lora_names=self.lora_names,
                                     r=lc.r, alpha=lc.alpha, dropout=lc.dropout,
                                     head_hidden=cfg.head.hidden, head_dropout=cfg.head.dropout,
                                     init_bias=cfg.head.init_bias,
                                     judge=(cfg.judge.hidden, cfg.judge.score_weight)
                                     if self.pairwise else None,
                                     temporal=self.temporal_spec(),
                                     temporal_checkpoint=cfg.resolve_path(cfg.temporal.checkpoint),
                                     head_position=cfg.head.position)
        if self.model.temporal is not None:
            self.encoder.use_temporal(cfg.temporal.tokens, backbone.model.config)
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

    def temporal_spec(self):
        """The configured temporal branch (:mod:`.temporal`) or None."""
        from .temporal import TemporalSpec

        tc = self.cfg.temporal
        if tc.kind == "none":
            return None
        return TemporalSpec(tc.kind, int(tc.tokens), int(tc.width), bool(tc.trainable),
                            tc.checkpoint)

    def _threads_and_device(self, torch) -> bool:
        """Apply ``train.threads``, check ``train.device``; returns whether to run on the CPU."""
        tl = self.cfg.train
        if tl.threads > 0:
            # Tiny models on a shared CPU run many times faster on one thread:
            # OpenMP workers spin while they wait for a busy core.
            torch.set_num_threads(int(tl.threads))
        dev = (tl.device or "").lower()
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"train.device is {tl.device!r} but CUDA is not available")
        return dev == "cpu" or not torch.cuda.is_available()

    def _pad_id(self) -> int:
        tok = self.encoder.tokenizer
        pid = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        if pid is None:
            raise MetricError("the tokenizer has neither a pad nor an eos token to pad with")
        return int(pid)

    def _count(self, trainable_only: bool) -> int:
        """Parameters in the model, or only those the evaluator adds or trains."""
        params = {id(p): p for p in self.model.parameters()}
        if trainable_only:  # a frozen temporal video net is saved but not trained
            params = {id(p): p for k, p in self._saved_params().items()
                      if self.cfg.temporal.trainable or not k.startswith("temporal.net.")}
        return sum(p.numel() for p in params.values())

    # --- parameters --------------------------------------------------------------
    def _saved_params(self) -> dict[str, Any]:
        from .model import heads_state, judges_state, trainable_state

        out = {"adapter." + k: v for k, v in
               trainable_state(self.model, self.projector_trained).items()}
        out.update({"heads." + k: v for k, v in heads_state(self.model).items()})
        out.update({"judge." + k: v for k, v in judges_state(self.model).items()})
        from .temporal import temporal_state

        out.update({"temporal." + k: v for k, v in temporal_state(self.model).items()})
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
        if kind in ("regression", "pairwise"):
            for p in self.model.heads.parameters():
                p.requires_grad_(True)
                heads.append(p)
        if kind == "pairwise":
            for p in self.model.judges.parameters():
                p.requires_grad_(True)
                heads.append(p)
        br = self.model.temporal
        if br is not None:  # its projector always trains, its video net when asked
            for name, p in br.named_parameters():
                if name.startswith("proj.") or self.cfg.temporal.trainable:
                    p.requires_grad_(True)
                    body.append(p)
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
        from .pairwise import PairDataset, collate_pairs

        # A partial (not a lambda) so worker processes can receive it under any start method.
        fn = functools.partial(collate_pairs if isinstance(ds, PairDataset) else collate,
                               pad_id=self.pad_id, side=self.cfg.train.padding_side)
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
                     "dropout": cfg.head.dropout, "position": cfg.head.position},
            "temporal": (self.model.temporal.describe() if self.model.temporal is not None
                         else None),
            "qa_trained": any(st.kind == "qa" and st.epochs > 0 for st in cfg.stages),
            "judge": ({"hidden": int(cfg.judge.hidden) or 256,
                       "score_weight": float(cfg.judge.score_weight)}
                      if self.pairwise else None),
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

    # --- the run -----------------------------------------------------------------
    def run(self, resume: bool = False) -> TrainResult:
        import torch

        threads = torch.get_num_threads()
        try:
            return self._run(resume)
        finally:
            torch.set_num_threads(threads)  # train.threads is for this run only

    def _run(self, resume: bool) -> TrainResult:
        t_start = time.perf_counter()
        self.setup()
        run = self._start(resume)
        state = run.state
        for s_idx, stage in enumerate(self.cfg.stages):
            if stage.epochs <= 0 or (state is not None and s_idx < int(state["stage"])):
                continue
            self._stage(run, s_idx, stage, state if state is not None
                        and s_idx == int(state["stage"]) else None)
            state = None
        return self._finish(run, t_start)

    def _start(self, resume: bool) -> _RunState:
        """Write the config, open the logs, restore a checkpoint and check it may resume."""
        cfg = self.cfg
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json(cfg.to_dict(), self.out / "config.json", sort_keys=True)
        log = CsvLog(self.out / "metrics.csv", log_columns([t.name for t in self.targets]),
                     self.main)
        tb = open_tensorboard(self.out, self.say) if self.main and cfg.train.tensorboard \
            else None
        state = self.load_checkpoint() if resume else None
        if resume and state is None:
            self.say("no checkpoint to resume from; starting from the beginning")
        if state is None and self.main and (self.out / "metrics.csv").exists():
            (self.out / "metrics.csv").unlink()
        run = _RunState(log, tb, state)
        if state is None:
            return run
        self.say(f"resuming from {state['folder']} (stage {state['stage']}, epoch "
                 f"{state['epoch']}, step {state['step']})")
        log.truncate_after(int(state["global_step"]))
        run.history = list(state.get("history", []))
        # Stages that max_steps stopped early (stage -> its steps): a resumed run cannot go
        # back to them, so it may not pretend to be the full run.
        run.cut_short = dict(state.get("cut_short", {}))
        for s_key, n_done in sorted(run.cut_short.items()):
            if int(s_key) < int(state["stage"]) and (not cfg.train.max_steps
                                                     or cfg.train.max_steps > n_done):
                raise InputError(
                    f"{state['folder']}: stage {s_key} ({cfg.stages[int(s_key)].kind}) was "
                    f"stopped after {n_done} optimizer steps by max_steps, and the run has "
                    "moved on to a later stage; resuming cannot finish it. Resume with the "
                    f"same --max-steps {n_done}, or start the full run in a new output_dir")
        run.best, run.baseline = state.get("best"), state.get("baseline")
        run.global_step = int(state["global_step"])
        return run

    def _optimizer(self, s_idx: int, stage) -> tuple[Any, list[dict[str, Any]]]:
        """AdamW over what the stage trains (body and heads at their learning rates)."""
        import torch

        cfg = self.cfg
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
        return torch.optim.AdamW(groups, lr=lr, weight_decay=cfg.train.weight_decay), groups

    def _stage(self, run: _RunState, s_idx: int, stage, resume_state: dict | None) -> None:
        """Train one stage: its optimizer and schedule, then epoch after epoch."""
        cfg = self.cfg
        run.cut_short.pop(str(s_idx), None)  # set again below if max_steps stops it again
        if stage.kind == "pairwise":
            ds = self._pair_dataset(self.split.train_pairs, "train-pairs")
        else:
            examples = self.split.train_qa if stage.kind == "qa" else self.split.train
            with_answer = stage.kind != "regression" or cfg.loss.lm > 0
            ds = self._dataset(examples, with_answer, f"train-{stage.kind}")
        opt, groups = self._optimizer(s_idx, stage)
        model, opt = self.acc.prepare(self.model, opt)
        per_epoch = len(self._epoch_batches(len(ds), s_idx, 0))
        n_epochs = int(math.ceil(stage.epochs))
        micro_in = [per_epoch] * n_epochs
        micro_in[-1] = int(round(per_epoch * (stage.epochs - (n_epochs - 1))))
        # The schedule follows the planned length; max_steps only stops early, so it
        # may change on --resume without changing the run.
        total = sum(int(math.ceil(m / cfg.train.grad_accum)) for m in micro_in)
        sp = _StagePlan(s_idx, stage, ds, model, opt, groups, micro_in, n_epochs, total,
                        int(round(cfg.train.warmup_ratio * total)))
        if resume_state is not None:
            self.restore_optimizer(resume_state, opt)
            sp.step = int(resume_state["step"])
            sp.start_epoch, sp.start_group = int(resume_state["epoch"]), int(
                resume_state["group"])
        elif run.baseline is None and (
                (stage.kind == "regression" and self.split.val)
                or (stage.kind == "pairwise" and self.split.val_pairs)):
            run.baseline = self.evaluate()
            run.log.append({"time": time.time(), "stage": s_idx, "kind": stage.kind,
                            "epoch": 0, "step": 0, "global_step": run.global_step,
                            "split": "val", **run.baseline})
            self.say("before training: " + fmt_metrics(run.baseline))
        self.say(f"stage {s_idx} ({stage.kind}): {len(ds)} examples, {stage.epochs:g} "
                 f"epoch(s), {total} optimizer steps"
                 + (f" (stopping after {cfg.train.max_steps})" if cfg.train.max_steps
                    and cfg.train.max_steps < total else ""))
        for epoch in range(sp.start_epoch, n_epochs):
            done, resume_at = self._epoch(run, sp, epoch)
            sp.start_group = 0
            self._end_epoch(run, sp, epoch, resume_at)
            if done:
                break
        self.model = self.acc.unwrap_model(model)

    def _epoch(self, run: _RunState, sp: _StagePlan, epoch: int) -> tuple[bool, tuple[int, int]]:
        """The optimizer steps of one epoch (from ``sp.start_group`` when resuming).

        Returns whether max_steps ended the stage, and where a resumed run picks up:
        the next epoch, or the rest of this one when max_steps cut it short.
        """
        cfg = self.cfg
        accum = cfg.train.grad_accum
        batches = self._epoch_batches(len(sp.ds), sp.index, epoch)[:sp.micro_in[epoch]]
        grouped = [batches[i:i + accum] for i in range(0, len(batches), accum)]
        loader = iter(self._loader(sp.ds, [b for g in grouped[sp.start_group:] for b in g]))
        next_group = sp.start_group
        done = False
        for g_idx in range(sp.start_group, len(grouped)):
            if cfg.train.max_steps and sp.step >= cfg.train.max_steps:
                done = run.stopped_early = True
                break
            t0 = time.perf_counter()
            loss_sum, sums = self._optimizer_step(sp, grouped[g_idx], loader)
            sp.step += 1
            run.global_step += 1
            next_group = g_idx + 1
            run.step_times.append(time.perf_counter() - t0)
            run.log.append({"time": time.time(), "stage": sp.index, "kind": sp.stage.kind,
                            "epoch": epoch + 1, "step": sp.step, "global_step": run.global_step,
                            "split": "train", "lr": sp.opt.param_groups[0]["lr"],
                            "loss": loss_sum, "seconds": run.step_times[-1],
                            "mem_gb": self._peak_gb(), **sums})
            if run.tb is not None:
                run.tb.add_scalar(f"train/loss_{sp.stage.kind}", loss_sum, run.global_step)
            every = cfg.train.checkpoint_every
            if every and run.global_step % every == 0:
                self.save_checkpoint(run.position(sp, epoch, g_idx + 1), sp.opt)
            if self.on_step is not None:
                self.on_step(run.global_step)  # after the step's checkpoint, if any
            if cfg.train.max_steps and sp.step >= cfg.train.max_steps:
                done = run.stopped_early = (next_group < len(grouped)
                                            or epoch + 1 < sp.n_epochs)
                break
        if done:
            run.cut_short[str(sp.index)] = sp.step
        return done, ((epoch, next_group) if done else (epoch + 1, 0))

    def _optimizer_step(self, sp: _StagePlan, group: list, loader) -> tuple[float, dict]:
        """One optimizer step over a group of micro-batches (gradient accumulation)."""
        cfg = self.cfg
        sp.model.train()
        factor = lr_factor(sp.step, sp.total, sp.warmup, cfg.train.schedule)
        for g in sp.opt.param_groups:
            g["lr"] = g["base_lr"] * factor
        sums: dict[str, float] = {}
        loss_sum = 0.0
        for m_idx in range(len(group)):
            batch = self._to_device(next(loader))
            sync = m_idx == len(group) - 1
            with (nullcontext() if sync else self.acc.no_sync(sp.model)):
                with self.acc.autocast():
                    loss, parts = stage_loss(sp.model, sp.stage.kind, batch, cfg.loss)
                self.acc.backward(loss / len(group))
            loss_sum += float(loss.detach()) / len(group)
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v / len(group)
        if cfg.train.max_grad_norm > 0:
            self.acc.clip_grad_norm_([p for g in sp.groups for p in g["params"]],
                                     cfg.train.max_grad_norm)
        sp.opt.step()
        sp.opt.zero_grad(set_to_none=True)
        return loss_sum, sums

    def _end_epoch(self, run: _RunState, sp: _StagePlan, epoch: int,
                   resume_at: tuple[int, int]) -> None:
        """Validate, keep the best evaluator of the last stage, checkpoint."""
        res = self.evaluate()
        info = {"stage": sp.index, "kind": sp.stage.kind, "epoch": epoch + 1,
                "global_step": run.global_step, **res}
        run.history.append(info)
        run.log.append({"time": time.time(), "stage": sp.index, "kind": sp.stage.kind,
                        "epoch": epoch + 1, "step": sp.step, "global_step": run.global_step,
                        "split": "val", **res})
        if run.tb is not None:
            for k, v in res.items():
                run.tb.add_scalar(f"val/{k}", v, run.global_step)
        if res:
            self.say(f"stage {sp.index} epoch {epoch + 1}: " + fmt_metrics(res))
        last_stage = max((i for i, s in enumerate(self.cfg.stages) if s.epochs > 0), default=-1)
        if sp.index == last_stage and self._selectable(res) and self._better(res, run.best):
            run.best = info
            self._export(self.out / "best", info)
        self.save_checkpoint(run.position(sp, *resume_at), sp.opt)

    def _finish(self, run: _RunState, t_start: float) -> TrainResult:
        """Export ``last/``, copy the selected evaluator up, write ``summary.json``."""
        final = {"global_step": run.global_step, **(run.history[-1] if run.history else {})}
        self._export(self.out / "last", final)
        chosen = self.out / "best" if (self.out / "best").exists() else self.out / "last"
        if self.main:
            names = [n for n in self.export_files if (chosen / n).exists()]
            for name in names:
                shutil.copyfile(chosen / name, self.out / (name + ".tmp"))
            # evaluator.json last, so a reader never sees it before its weights.
            for name in names:
                os.replace(self.out / (name + ".tmp"), self.out / name)
        seconds = time.perf_counter() - t_start
        result = TrainResult(self.out, self.out, run.best or final, run.baseline, run.history,
                             run.global_step, seconds,
                             float(np.mean(run.step_times)) if run.step_times else 0.0,
                             run.stopped_early, self.main)
        if self.main:
            write_json({
                "best": run.best, "baseline": run.baseline, "history": run.history,
                "global_step": run.global_step, "seconds": seconds,
                "seconds_per_step": result.seconds_per_step, "selected": chosen.name,
                "peak_gpu_memory_gb": self._peak_gb(), "processes": self.world,
                "data": self.split.describe()}, self.out / "summary.json", sort_keys=True)
        if run.tb is not None:
            run.tb.close()
        self.acc.wait_for_everyone()
        return result

    def _peak_gb(self) -> float | None:
        return peak_gb(self.acc.device)


@dataclass
class _RunState:
    """What the loop carries across stages and epochs (and into checkpoints)."""

    log: CsvLog
    tb: Any
    state: dict[str, Any] | None  # the checkpoint resumed from, if any
    history: list[dict[str, Any]] = field(default_factory=list)
    cut_short: dict[str, int] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    global_step: int = 0
    step_times: list[float] = field(default_factory=list)
    stopped_early: bool = False

    def position(self, sp: _StagePlan, epoch: int, group: int) -> dict[str, Any]:
        """A checkpoint's ``state.json``: where to resume and what the run has seen."""
        return {"stage": sp.index, "epoch": epoch, "group": group, "step": sp.step,
                "global_step": self.global_step, "best": self.best, "baseline": self.baseline,
                "history": self.history, "cut_short": self.cut_short}


@dataclass
class _StagePlan:
    """One stage's data, prepared model and optimizer, schedule and progress."""

    index: int
    stage: Any
    ds: Any
    model: Any
    opt: Any
    groups: list[dict[str, Any]]
    micro_in: list[int]  # micro-batches per epoch
    n_epochs: int
    total: int  # optimizer steps planned
    warmup: int
    step: int = 0
    start_epoch: int = 0
    start_group: int = 0


def train(cfg: TrainConfig, resume: bool = False,
          log: Callable[[str], None] | None = None,
          on_step: Callable[[int], None] | None = None) -> TrainResult:
    """Run a training configuration; see the module docstring for what it writes.

    ``on_step(global_step)`` is called after every optimizer step (and its
    checkpoint, when one is due): progress reporting, or stopping from outside.
    """
    return Trainer(cfg, log, on_step).run(resume=resume)
